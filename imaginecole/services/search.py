"""Keep the search index in step with the database; it can always be rebuilt from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from imaginecole.extensions import db
from imaginecole.models import Lesson, Module, ModuleCompetency
from imaginecole.search import search_index
from imaginecole.search.documents import documents_for


@dataclass
class IndexReport:
    updated: int = 0
    removed: int = 0
    rebuilt: bool = False


def _modules(uids: list[str] | None = None) -> list[Module]:
    query = (
        select(Module)
        .where(Module.published.is_(True))
        .options(
            selectinload(Module.lessons).selectinload(Lesson.translations),
            selectinload(Module.levels),
            selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
            selectinload(Module.subject),
        )
    )
    if uids is not None:
        query = query.where(Module.uid.in_(uids))
    return list(db.session.scalars(query))


def sync_index(progress: Callable[[int], None] | None = None) -> IndexReport:
    """Index modules that are new or changed since they were indexed; drop those gone.

    Cheap when nothing changed (one stored field per module is compared), so it runs after
    every load and at start-up, which also repairs an index left behind by a crash.
    """
    index = search_index()
    if index.needs_rebuild():
        count = rebuild_index(progress)
        return IndexReport(updated=count, rebuilt=True)
    indexed = index.fingerprints()
    current = dict(
        db.session.execute(
            select(Module.uid, Module.fingerprint).where(Module.published.is_(True))
        ).all()
    )
    stale = [uid for uid, fingerprint in current.items() if indexed.get(uid) != fingerprint]
    removed = [uid for uid in indexed if uid not in current]
    for start in range(0, len(stale), 50):  # bounded batches: a writer holds memory until commit
        batch = _modules(stale[start : start + 50])
        index.replace_modules({m.uid: documents_for(m) for m in batch})
        if progress:
            progress(min(start + 50, len(stale)))
    if removed:
        index.replace_modules({}, removed=removed)
    return IndexReport(updated=len(stale), removed=len(removed))


def rebuild_index(progress: Callable[[int], None] | None = None) -> int:
    """Index every published module anew; return the number of modules indexed."""
    modules = _modules()

    def documents():
        for count, module in enumerate(modules, start=1):
            yield from documents_for(module)
            if progress:
                progress(count)

    search_index().rebuild(documents())
    return len(modules)
