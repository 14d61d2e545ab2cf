"""Remember which version of the renderer made each lesson's HTML.

Lessons are rendered once, when loaded; a server upgraded to a renderer that writes other HTML
renders again the lessons an older one made. Lessons already stored count as version 0, older
than any renderer that records its version.

Revision ID: e4a1c7b93f52
Revises: b7e2c4d91a05
Create Date: 2026-12-06 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e4a1c7b93f52"
down_revision = "b7e2c4d91a05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lesson_text") as batch:
        batch.add_column(sa.Column("rendering", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("lesson_text") as batch:
        batch.drop_column("rendering")
