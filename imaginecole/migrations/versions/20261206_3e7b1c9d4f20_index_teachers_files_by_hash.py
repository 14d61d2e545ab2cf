"""Index teachers' files by hash.

``/media/<hash>`` looks a blob up in image variants, assets and teachers' files in one query;
without this index the last part read the whole table on every request for a media file.

Revision ID: 3e7b1c9d4f20
Revises: d8b2e6f0a3c5
Create Date: 2026-12-06 03:50:00.000000
"""

from alembic import op

revision = "3e7b1c9d4f20"
down_revision = "d8b2e6f0a3c5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_sha256"))
