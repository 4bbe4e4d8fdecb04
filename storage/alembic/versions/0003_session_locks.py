"""Session locks held across processes (``storage.locks``): a lease row per locked session.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("session_locks",
                    sa.Column("session_id", sa.Text(), nullable=False),
                    sa.Column("holder", sa.Text(), nullable=False),
                    sa.Column("expires_at", sa.Float(), nullable=False),  # epoch seconds
                    sa.PrimaryKeyConstraint("session_id"))


def downgrade() -> None:
    op.drop_table("session_locks")
