"""What the app asks of a search engine, and the plain data it gives and gets back.

Whoosh stands behind it on a school server (``whoosh_engine``); a PostgreSQL full-text engine
can stand behind the same calls at national scale. Nothing here depends on an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class Document:
    """What is indexed of a module or a lesson text; plain data built from the database."""

    id: str
    kind: str  # module | lesson
    module_uid: str
    lang: str
    country: str
    levels: list[str]  # "cc:slug": level slugs repeat across countries
    subject: str
    resource_type: str
    fingerprint: str
    title: str
    module_title: str
    body: str  # the visible text, also shown in snippets
    extra: str = ""  # summary, keywords, competencies, authors: searched but not shown
    lesson_slug: str = ""


MAX_PAGE = 1000  # deeper pages are never what a reader wants, and cost the most


@dataclass
class SearchQuery:
    text: str = ""
    country: str = ""
    level: str = ""  # "cc:slug"
    subject: str = ""
    lang: str = ""
    resource_type: str = ""
    page: int = 1
    per_page: int = 10
    prefer_lang: str = ""  # the reader's language: its documents rank a little higher

    @classmethod
    def from_args(cls, args: Mapping[str, str], per_page: int, prefer_lang: str) -> SearchQuery:
        """Return the query a page or API address asks for, its values cut to their fields.

        A page number out of range or unreadable is read as the nearest one.
        """
        try:
            page = min(max(int(args.get("page", 1)), 1), MAX_PAGE)
        except ValueError:
            page = 1
        return cls(
            text=args.get("q", "")[:500],
            country=args.get("country", "")[:2],
            level=args.get("level", "")[:80],
            subject=args.get("subject", "")[:80],
            lang=args.get("language", "")[:2],
            resource_type=args.get("type", "")[:40],
            page=page,
            per_page=per_page,
            prefer_lang=prefer_lang,
        )

    def filters(self) -> dict[str, str]:
        """Return the filters set, by the name of the document field each one narrows."""
        return {
            name: value
            for name, value in (
                ("country", self.country),
                ("levels", self.level),
                ("subject", self.subject),
                ("lang", self.lang),
                ("resource_type", self.resource_type),
            )
            if value
        }


@dataclass
class Hit:
    kind: str
    module_uid: str
    lesson_slug: str
    lang: str
    title: str
    module_title: str
    snippet: str  # safe HTML: text with <mark> around matches
    country: str
    levels: list[str]
    subject: str
    resource_type: str


@dataclass
class SearchResults:
    query: SearchQuery
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # most frequent first
    suggestion: str = ""  # a corrected query worth proposing, or ""
    corrected: bool = False  # hits are those of the suggestion (the query itself found nothing)
    partial: bool = False  # no page has every word: hits have some of them
    empty_query: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


@runtime_checkable
class IndexUpdate(Protocol):
    """Changes to the index, written as they come and seen by searches once published.

    ``prepare`` does the slow part of writing early (a bundle import, while its media are
    still being copied), so ``publish`` (after the database commit) is quick. Until the update
    is published or discarded, other writers wait.
    """

    modules: set[str]  # modules whose documents this update replaces

    def replace(self, uid: str, documents: Iterable[Document]) -> None:
        """Replace every document of module ``uid`` with ``documents``.

        Raise ValueError if the update already changes ``uid`` or is prepared.
        """
        ...

    def remove(self, uid: str) -> None:
        """Drop every document of module ``uid`` (ValueError as for ``replace``)."""
        ...

    def prepare(self) -> None:
        """Write the changes now; searches do not see them until ``publish``."""
        ...

    def publish(self) -> None:
        """Make the changes seen by searches, at once, and let other writers in."""
        ...

    def discard(self) -> None:
        """Drop the changes and let other writers in; nothing once published."""
        ...


@runtime_checkable
class SearchIndex(Protocol):
    """The search index of one data directory; safe to search from many threads.

    It holds what the database says and can always be rebuilt from it: one that is missing,
    outdated or damaged is opened empty (``needs_rebuild``), never served half-read.
    """

    def search(self, query: SearchQuery) -> SearchResults:
        """Return a page of results with facet counts; never fails on what a person typed.

        The results may be kept and handed to the next caller asking the same: read them only.
        """
        ...

    def begin_update(self) -> IndexUpdate:
        """Start changes that searches see only once published."""
        ...

    def replace_modules(
        self, documents: dict[str, list[Document]], removed: Iterable[str] = ()
    ) -> None:
        """Replace the documents of each module in ``documents`` and drop those of ``removed``."""
        ...

    def rebuild(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> int:
        """Index everything anew, seen by searches only once whole; return the document count."""
        ...

    def fingerprints(self) -> dict[str, str]:
        """Return the fingerprint indexed for each module (every document of it carries it)."""
        ...

    def needs_rebuild(self) -> bool:
        """Return True when the index was just created empty (missing, outdated or damaged)."""
        ...

    def version(self) -> str:
        """Return a name of what searches see now, which changes whenever that changes.

        Stored search pages are kept under it: the index follows the database after the commit.
        """
        ...

    def close(self) -> None:
        """Release what the index holds open; the next call opens it again."""
        ...


def replace_in_one_update(
    update: IndexUpdate, documents: dict[str, list[Document]], removed: Iterable[str] = ()
) -> None:
    """Apply ``documents`` and ``removed`` as one update, published whole or not at all."""
    try:
        for uid, docs in documents.items():
            update.replace(uid, docs)
        for uid in removed:
            update.remove(uid)
        update.publish()
    finally:
        update.discard()
