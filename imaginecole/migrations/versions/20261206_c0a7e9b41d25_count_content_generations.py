"""Count content generations, so cached pages know when the content changed.

Revision ID: c0a7e9b41d25
Revises: aad55eff64cd
Create Date: 2026-12-06 03:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "c0a7e9b41d25"
down_revision = "aad55eff64cd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "content_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_state")),
    )
    op.bulk_insert(table, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("content_state")
