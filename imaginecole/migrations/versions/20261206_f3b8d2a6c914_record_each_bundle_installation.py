"""Record each install and removal of bundles on a school server, with its changelog.

The installed bundles' rows go when a channel is removed; this log stays, so a school keeps
what it installed, when, by whom and what each version changed.

Revision ID: f3b8d2a6c914
Revises: e4a1c7b93f52
Create Date: 2026-12-06 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f3b8d2a6c914"
down_revision = "e4a1c7b93f52"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundle_installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("publisher_key_id", sa.String(length=64), nullable=False),
        sa.Column("modules_applied", sa.Integer(), nullable=False),
        sa.Column("modules_removed", sa.Integer(), nullable=False),
        sa.Column("changelog", sa.JSON(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"],
            ["user.id"],
            name=op.f("fk_bundle_installation_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_installation")),
    )
    op.create_index(op.f("ix_bundle_installation_at"), "bundle_installation", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bundle_installation_at"), table_name="bundle_installation")
    op.drop_table("bundle_installation")
