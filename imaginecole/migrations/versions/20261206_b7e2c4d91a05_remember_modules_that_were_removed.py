"""Remember modules that were removed or unpublished.

OAI-PMH harvesters keep a copy of each record; a removal they never hear of leaves a module in
their catalogue forever (``deletedRecord=persistent``).

Revision ID: b7e2c4d91a05
Revises: aad55eff64cd
Create Date: 2026-12-06 03:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b7e2c4d91a05"
down_revision = "aad55eff64cd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "module_tombstone",
        sa.Column("uid", sa.String(length=120), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("set_specs", sa.JSON(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_module_tombstone")),
    )
    with op.batch_alter_table("module_tombstone", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_module_tombstone_country_code"), ["country_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("module_tombstone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_module_tombstone_country_code"))
    op.drop_table("module_tombstone")
