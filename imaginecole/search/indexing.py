"""Keep the search index in step with the database; it can always be rebuilt from it.

With the PostgreSQL engine the index is part of the database: each commit that changed content
also writes the index rows of the modules it changed, in the same transaction, so that every
host sees the content and its search at once (``_index_with_the_commit``). The Whoosh engine
follows after the commit (``sync_index``), as it always has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, selectinload

from imaginecole.content.models import Lesson, Module, ModuleCompetency
from imaginecole.curriculum.models import Competency, Level, Subject
from imaginecole.extensions import db
from imaginecole.search import IndexUpdate, search_index
from imaginecole.search.documents import (
    CurriculumNames,
    documents_for,
    documents_of,
    from_bundle,
)
from imaginecole.search.postgresql_engine import PostgresIndex
from sync import model as fmt

# The tables a search document is made of: a commit changing one may change the index.
CONTENT_MODELS = ("imaginecole.content.models", "imaginecole.curriculum.models")
CONTENT_CHANGED = "imaginecole.search.content_changed"  # key of Session.info


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

    Cheap when nothing changed (only the fingerprints stored in the index are compared), so it
    runs after every load and at start-up, which also repairs an index left behind by a crash.
    """
    index = search_index()
    if index.needs_rebuild():
        count = rebuild_index(progress)
        return IndexReport(updated=count, rebuilt=True)
    stale, removed = _out_of_step(index.fingerprints())
    for start in range(0, len(stale), 50):  # bounded batches: a writer holds memory until commit
        batch = _modules(stale[start : start + 50])
        index.replace_modules({m.uid: documents_for(m) for m in batch})
        if progress:
            progress(min(start + 50, len(stale)))
    if removed:
        index.replace_modules({}, removed=removed)
    return IndexReport(updated=len(stale), removed=len(removed))


def _out_of_step(indexed: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Return the modules indexed in another version than published, and those not published."""
    current = dict(
        db.session.execute(
            select(Module.uid, Module.fingerprint).where(Module.published.is_(True))
        ).all()
    )
    stale = [uid for uid, fingerprint in current.items() if indexed.get(uid) != fingerprint]
    removed = [uid for uid in indexed if uid not in current]
    return stale, removed


@event.listens_for(db.session, "after_flush")
def _note_content_changes(session: Session, flush_context) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(type(instance).__module__ in CONTENT_MODELS for instance in changed):
        session.info[CONTENT_CHANGED] = True


@event.listens_for(db.session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    # UPDATE or DELETE statements bypass the flush; any of them may have changed content.
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[CONTENT_CHANGED] = True


@event.listens_for(db.session, "after_rollback")
def _forget_content_changes(session: Session) -> None:
    session.info.pop(CONTENT_CHANGED, None)


@event.listens_for(db.session, "before_commit")
def _index_with_the_commit(session: Session) -> None:
    """Write the index rows of the modules this commit changes, in its transaction.

    Only for the PostgreSQL engine, once its index exists at the current analysis version
    (else ``sync_index`` builds it whole after the commit, at start or after the load).
    """
    if not has_app_context():
        return
    index = search_index()
    if not isinstance(index, PostgresIndex):
        return
    session.flush()
    if not session.info.pop(CONTENT_CHANGED, False) or index.needs_rebuild():
        return
    stale, removed = _out_of_step(index.fingerprints())
    for start in range(0, len(stale), 50):
        batch = _modules(stale[start : start + 50])
        index.write({m.uid: documents_for(m) for m in batch})
    index.write({}, removed=removed)


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


@dataclass
class IndexAhead:
    """An import's index update, written before its database commit and published after it."""

    update: IndexUpdate
    fingerprints: dict[str, str] = field(default_factory=dict)  # of the modules in it

    def publish(self, written: Mapping[str, str]) -> bool:
        """Publish if each module in it was written as indexed (``written``: uid -> fingerprint).

        Otherwise (a module the import did not write, or that is hidden here) discard it all:
        ``sync_index`` then indexes what the database holds. Return True when published.
        """
        if all(written.get(uid) == f for uid, f in self.fingerprints.items()):
            self.update.publish()
            return True
        self.update.discard()
        return False

    def discard(self) -> None:
        self.update.discard()


def index_ahead(
    sources: list[fmt.Module],
    curriculum: fmt.Curriculum | None,
    rendered: Mapping[tuple[str, str, str], str],
    keep_going: Callable[[], bool],
) -> IndexAhead | None:
    """Index a bundle's modules before they are written, while ``keep_going()`` says so.

    Used while the media are still being copied, on time the import would otherwise spend
    waiting. Modules go in one at a time, each once every lesson of it is in ``rendered``
    (uid, lesson slug, language -> HTML); then, if there is time still, the segment is written.
    Searches see nothing until the caller publishes after its commit; modules left out are
    indexed by ``sync_index`` then. ``curriculum`` is the one the import is about to load.
    """
    if not keep_going() or isinstance(search_index(), PostgresIndex):
        return None  # PostgreSQL: the import's commit writes its index rows itself
    names: dict[str, CurriculumNames] = {}
    ahead = IndexAhead(search_index().begin_update())
    try:
        for source in sources:
            if not keep_going():
                break
            if source.country not in names:
                names[source.country] = (
                    CurriculumNames.of(curriculum)
                    if curriculum is not None and curriculum.code == source.country
                    else curriculum_names(source.country)
                )
            module = from_bundle(source, names[source.country], _rendered_of(source.id, rendered))
            if module is not None:
                ahead.update.replace(source.id, documents_of(module))
                ahead.fingerprints[source.id] = module.fingerprint
        if keep_going():
            ahead.update.prepare()
    except BaseException:
        ahead.discard()
        raise
    return ahead


def _rendered_of(
    uid: str, rendered: Mapping[tuple[str, str, str], str]
) -> Callable[[str, str], str | None]:
    return lambda slug, lang: rendered.get((uid, slug, lang))


def curriculum_names(country: str) -> CurriculumNames:
    """Return the names of a country's curriculum as the database holds it."""
    levels = db.session.execute(
        select(Level.code, Level.position, Level.slug).filter_by(country_code=country)
    )
    competencies = db.session.execute(
        select(Competency.code, Competency.label).filter_by(country_code=country)
    )
    return CurriculumNames(
        levels={code: (position, slug) for code, position, slug in levels},
        subjects=set(db.session.scalars(select(Subject.slug).filter_by(country_code=country))),
        competencies=dict(competencies.all()),
    )
