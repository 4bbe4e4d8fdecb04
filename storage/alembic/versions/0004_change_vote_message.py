"""The message a change vote is on, kept with its close button, so that the vote closed by its
deadline (no tap, so no message at hand) still shows the choice and loses its buttons.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("buttons") as batch:
        batch.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("buttons") as batch:
        batch.drop_column("message_id")
