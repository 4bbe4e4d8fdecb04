"""Buttons keep the order they were made in (``position`` within the ones made together).

SQLite's ``rowid`` ordered them before; PostgreSQL has none. Buttons of SQLite databases from
before take their rowid, which orders them as before within their ``created_at``.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("buttons") as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # only SQLite databases can hold buttons from before
        op.execute("UPDATE buttons SET position = rowid")


def downgrade() -> None:
    with op.batch_alter_table("buttons") as batch_op:
        batch_op.drop_column("position")
