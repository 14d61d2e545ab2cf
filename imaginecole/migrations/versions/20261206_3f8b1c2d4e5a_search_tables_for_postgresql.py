"""Search tables for the PostgreSQL engine, and the pg_trgm extension for did-you-mean.

On SQLite the tables are made too, and stay empty: both databases keep one schema. On
PostgreSQL the extension pg_trgm must exist in the database; since PostgreSQL 13 the owner of
the database may create it, otherwise a superuser must (the error says how).

Revision ID: 3f8b1c2d4e5a
Revises: 3e7b1c9d4f20
Create Date: 2026-12-06 03:40:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from imaginecole.schema import SchemaError

revision = "3f8b1c2d4e5a"
down_revision = "3e7b1c9d4f20"
branch_labels = None
depends_on = None


def create_trigram_extension() -> None:
    connection = op.get_bind()
    if connection.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return
    try:
        with connection.begin_nested():
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        database = connection.scalar(sa.text("SELECT current_database()"))
        raise SchemaError(
            f"The search needs PostgreSQL's pg_trgm extension in the database {database}, and "
            "this role may not create it. As a superuser run: "
            f'psql -d "{database}" -c "CREATE EXTENSION pg_trgm;" (Debian: it comes with '
            "the postgresql package), then upgrade again."
        ) from None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        create_trigram_extension()
    terms = TSVECTOR().with_variant(sa.Text(), "sqlite")
    op.create_table(
        "search_module",
        sa.Column("uid", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_search_module")),
    )
    op.create_table(
        "search_document",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("module_uid", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("lesson_slug", sa.String(length=80), nullable=False),
        sa.Column("lang", sa.String(length=10), nullable=False),
        sa.Column("country", sa.String(length=10), nullable=False),
        sa.Column("levels", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("module_title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("terms", terms, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_document")),
    )
    op.create_index(
        op.f("ix_search_document_module_uid"), "search_document", ["module_uid"], unique=False
    )
    op.create_index(
        "ix_search_document_terms",
        "search_document",
        ["terms"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "search_word",
        sa.Column("lang", sa.String(length=10), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lang", "word", name=op.f("pk_search_word")),
    )
    op.create_index(
        "ix_search_word_trigrams",
        "search_word",
        ["word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.create_table(
        "search_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_state")),
    )


def downgrade() -> None:
    op.drop_table("search_state")
    op.drop_index("ix_search_word_trigrams", table_name="search_word")
    op.drop_table("search_word")
    op.drop_index("ix_search_document_terms", table_name="search_document")
    op.drop_index(op.f("ix_search_document_module_uid"), table_name="search_document")
    op.drop_table("search_document")
    op.drop_table("search_module")
    # pg_trgm stays: other tables of the database may use it.
