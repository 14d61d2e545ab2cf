"""Review assignments (claim, release, second reviewer); what each review changed.

Revision ID: d8b2e6f0a3c5
Revises: c41f7a9e2d10
Create Date: 2026-12-06 03:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "d8b2e6f0a3c5"
down_revision = "c41f7a9e2d10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_assignment",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("second_reviewer_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["user.id"], name=op.f("fk_review_assignment_reviewer_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["second_reviewer_id"],
            ["user.id"],
            name=op.f("fk_review_assignment_second_reviewer_id_user"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_review_assignment_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_review_assignment")),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=10), nullable=False, server_default="single")
        )
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=12), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("edits", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("edits")
        batch_op.drop_column("outcome")
        batch_op.drop_column("stage")
    op.drop_table("review_assignment")
