"""The tables of the PostgreSQL search engine (``postgresql_engine``), one row per document.

They live in the app's database so that an index change is committed with the content it
follows, and every host reading the database sees both at once (docs/decisions.md, 28). Only
PostgreSQL fills them; on SQLite they exist, empty, so that both databases have one schema.
"""

from __future__ import annotations

from sqlalchemy import REAL, Identity, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from imaginecole.extensions import db

# A text column on SQLite, which has no full-text type and never fills these tables.
TERMS = TSVECTOR().with_variant(Text(), "sqlite")


class SearchModule(db.Model):
    """A module indexed, with the fingerprint of the version its documents were made from."""

    uid: Mapped[str] = mapped_column(String(120), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))


class SearchDocument(db.Model):
    """A module or lesson text as searched: what a hit shows, and its terms.

    ``terms`` holds every term with its position, each prefixed with the document's language:
    ``fr:algorithm`` (folded and stemmed; weight A in the title, D in the text) and
    ``fr=algorithme`` (as written, weight C), so one GIN index serves every language.
    """

    __table_args__ = (Index("ix_search_document_terms", "terms", postgresql_using="gin"),)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # A short key for the postings (``SearchPosting``), never reused.
    number: Mapped[int] = mapped_column(Integer, Identity(), unique=True)
    module_uid: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    lesson_slug: Mapped[str] = mapped_column(String(80))
    lang: Mapped[str] = mapped_column(String(10))
    country: Mapped[str] = mapped_column(String(10))
    levels: Mapped[str] = mapped_column(Text)  # "cc:slug" separated by commas
    subject: Mapped[str] = mapped_column(String(120))
    resource_type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    module_title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(TERMS)


class SearchPosting(db.Model):
    """A term of a document, and what it adds to the document's rank for a query holding it.

    One row per term of each document's ``terms``; the key's index lists a term's documents
    with their scores, so a search ranks its matches from the rows of its own terms instead of
    unpacking every match's terms (docs/decisions.md, 32).
    """

    # The score rides in the key's index: a term's rows are read from the index alone.
    __table_args__ = (PrimaryKeyConstraint("term", "document", postgresql_include=["score"]),)
    term: Mapped[str] = mapped_column(Text)
    document: Mapped[int] = mapped_column(Integer)  # SearchDocument.number
    score: Mapped[float] = mapped_column(REAL)


class SearchWord(db.Model):
    """A word as written in the documents of a language, and how often: for did-you-mean."""

    __table_args__ = (
        Index(
            "ix_search_word_trigrams",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )
    lang: Mapped[str] = mapped_column(String(10), primary_key=True)
    word: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class SearchState(db.Model):
    """One row: the version of the analysis the documents were indexed with."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis: Mapped[str] = mapped_column(String(20))
