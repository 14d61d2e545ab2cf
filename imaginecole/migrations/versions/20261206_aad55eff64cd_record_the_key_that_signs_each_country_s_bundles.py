"""Record the key that signs each country's bundles.

A build refuses to sign with another key than the one recorded for its country, so that a
national server that lost its keys never signs with a new key every school refuses.

Revision ID: aad55eff64cd
Revises: 5a3c9e1f2b7d
Create Date: 2026-12-06 01:18:06.015593
"""

import sqlalchemy as sa
from alembic import op

revision = "aad55eff64cd"
down_revision = "5a3c9e1f2b7d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("replaces_key_id", sa.String(length=16), nullable=False),
        sa.Column("endorsement", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key")),
    )
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signing_key_country_code"), ["country_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_country_code"))
    op.drop_table("signing_key")
