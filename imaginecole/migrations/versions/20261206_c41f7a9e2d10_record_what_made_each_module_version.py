"""Record what made each module version (an upload, an editor, a review …) and which one.

Versions recorded before were made by editors when they name a person, and loaded from files
or a bundle otherwise.

Revision ID: c41f7a9e2d10
Revises: b7e2a9c4d1f3
Create Date: 2026-12-06 03:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "c41f7a9e2d10"
down_revision = "b7e2a9c4d1f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("module_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=20), nullable=False, server_default="loaded")
        )
        batch_op.add_column(
            sa.Column("reference", sa.String(length=300), nullable=False, server_default="")
        )
    op.execute("UPDATE module_version SET origin = 'curation' WHERE changed_by_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("module_version", schema=None) as batch_op:
        batch_op.drop_column("reference")
        batch_op.drop_column("origin")
