"""Remember modules that were removed or unpublished, and the hash of each bundle file.

OAI-PMH harvesters keep a copy of each record; a removal they never hear of leaves a module in
their catalogue forever (``deletedRecord=persistent``). The OPDS catalogue announces each
bundle file's SHA-256, computed once when the bundle is built; bundles built before keep an
empty list.

Revision ID: b7e2c4d91a05
Revises: 3f8b1c2d4e5a
Create Date: 2026-12-06 03:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b7e2c4d91a05"
down_revision = "3f8b1c2d4e5a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "built_bundle_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["built_bundle.id"],
            name=op.f("fk_built_bundle_file_bundle_id_built_bundle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_built_bundle_file")),
    )
    with op.batch_alter_table("built_bundle_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_built_bundle_file_bundle_id"), ["bundle_id"], unique=False
        )
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
    with op.batch_alter_table("built_bundle_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_built_bundle_file_bundle_id"))
    op.drop_table("built_bundle_file")
    with op.batch_alter_table("module_tombstone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_module_tombstone_country_code"))
    op.drop_table("module_tombstone")
