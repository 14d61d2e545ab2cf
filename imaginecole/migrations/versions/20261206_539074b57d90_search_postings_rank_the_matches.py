"""Search postings: each document's terms with what they add to its rank.

A search on PostgreSQL ranked every match by unpacking its whole list of terms; the postings
let it read only the rows of the terms it asked for (docs/decisions.md, 32). Documents get a
short number for the postings to name them (PostgreSQL numbers the rows already there). The
postings of documents indexed before are written by the rebuild that the next start does
(the index's analysis version changed); until then searches find the same pages, unranked.

Revision ID: 539074b57d90
Revises: f3b8d2a6c914
Create Date: 2026-12-06 07:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "539074b57d90"
down_revision = "f3b8d2a6c914"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_document") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), sa.Identity(), nullable=False))
        batch.create_unique_constraint(batch.f("uq_search_document_number"), ["number"])
    op.create_table(
        "search_posting",
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("document", sa.Integer(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=False),
        sa.PrimaryKeyConstraint(
            "term", "document", name=op.f("pk_search_posting"), postgresql_include=["score"]
        ),
    )


def downgrade() -> None:
    op.drop_table("search_posting")
    with op.batch_alter_table("search_document") as batch:
        batch.drop_constraint(batch.f("uq_search_document_number"), type_="unique")
        batch.drop_column("number")
