"""Keep the note a national team writes for the schools when it starts a bundle build.

The build runs in the background; the note travels in the bundle's changelog.

Revision ID: 3f1d2c4b5a69
Revises: c0a7e9b41d25
Create Date: 2026-12-06 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "3f1d2c4b5a69"
down_revision = "c0a7e9b41d25"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("build_job", schema=None) as batch_op:
        # The server default fills the rows of builds started before; the app always writes it.
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("build_job", schema=None) as batch_op:
        batch_op.drop_column("note")
