"""What harvesters see: published modules and the tombstones of removed ones, by set and date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, selectinload

from imaginecole.clock import as_utc
from imaginecole.content.models import Lesson, Module, ModuleCompetency, module_levels
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.extensions import db
from imaginecole.oai.models import ModuleTombstone


@dataclass(frozen=True)
class OaiSet:
    spec: str
    names: dict[str, str]  # per language


@dataclass(frozen=True)
class Selection:
    """What a list request asks for; ``after`` is the last identifier already sent."""

    set_spec: str | None = None
    since: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    after: str = ""


@dataclass(frozen=True)
class Record:
    uid: str
    stamp: datetime
    set_specs: list[str]
    module: Module | None  # None when deleted


def module_set_specs(module: Module) -> list[str]:
    """Return the most precise sets a module is in: its country's levels and subject."""
    country = module.country_code
    specs = [f"{country}:level:{level.slug}" for level in module.levels]
    specs.append(f"{country}:subject:{module.subject.slug}")
    return specs


def all_sets() -> list[OaiSet]:
    """Return every set: per country, then its levels and subjects (a hierarchy by ``:``)."""
    sets = []
    countries = db.session.scalars(
        select(Country)
        .order_by(Country.code)
        .options(selectinload(Country.levels), selectinload(Country.subjects))
    )
    for country in countries:
        code = country.code
        sets.append(OaiSet(code, dict(country.name)))
        sets.append(OaiSet(f"{code}:level", _joined(country.name, LEVELS_OF)))
        for level in country.levels:
            sets.append(OaiSet(f"{code}:level:{level.slug}", _joined(country.name, level.name)))
        sets.append(OaiSet(f"{code}:subject", _joined(country.name, SUBJECTS_OF)))
        for subject in country.subjects:
            sets.append(
                OaiSet(f"{code}:subject:{subject.slug}", _joined(country.name, subject.name))
            )
    return sets


# Set names carry text in every language a harvester may show; these are not page text.
LEVELS_OF = {"fr": "niveaux", "en": "levels", "ar": "المستويات"}
SUBJECTS_OF = {"fr": "disciplines", "en": "subjects", "ar": "المواد"}


def _joined(country: dict[str, str], part: dict[str, str]) -> dict[str, str]:
    names = {}
    for lang, country_name in country.items():
        if part.get(lang):
            names[lang] = f"{country_name} — {part[lang]}"
    return names or {lang: f"{name}" for lang, name in country.items()}


def earliest_stamp() -> datetime:
    """Return the oldest datestamp a record has, or now when there is none."""
    stamps = [
        db.session.scalar(select(func.min(Module.updated_at)).where(Module.published.is_(True))),
        db.session.scalar(select(func.min(ModuleTombstone.removed_at))),
    ]
    known = [as_utc(stamp) for stamp in stamps if stamp is not None]
    return min(known) if known else datetime.now(UTC)


def find_record(uid: str) -> Record | None:
    """Return the record of a published module or of a removed one, else None."""
    module = db.session.scalar(_with_metadata(select(Module).filter_by(uid=uid, published=True)))
    if module is not None:
        return Record(uid, as_utc(module.updated_at), module_set_specs(module), module)
    tombstone = db.session.get(ModuleTombstone, uid)
    if tombstone is not None:
        return Record(uid, as_utc(tombstone.removed_at), list(tombstone.set_specs), None)
    return None


def list_records(selection: Selection, limit: int, with_metadata: bool) -> list[Record]:
    """Return up to ``limit`` records after ``selection.after``, by identifier."""
    statement = _published(selection).order_by(Module.uid).limit(limit)
    if with_metadata:
        statement = _with_metadata(statement)
    else:
        statement = statement.options(selectinload(Module.levels), selectinload(Module.subject))
    records = [
        Record(m.uid, as_utc(m.updated_at), module_set_specs(m), m)
        for m in db.session.scalars(statement)
    ]
    records += [
        Record(t.uid, as_utc(t.removed_at), list(t.set_specs), None) for t in _tombstones(selection)
    ]
    records.sort(key=lambda record: record.uid)
    return records[:limit]


def count_records(selection: Selection) -> int:
    """Return how many records the selection holds from its start (``after`` ignored)."""
    whole = Selection(selection.set_spec, selection.since, selection.before)
    published = db.session.scalar(select(func.count()).select_from(_published(whole).subquery()))
    return published + len(_tombstones(whole))


def _published(selection: Selection):
    statement = select(Module).where(Module.published.is_(True), Module.uid > selection.after)
    if selection.since is not None:
        statement = statement.where(Module.updated_at >= selection.since)
    if selection.before is not None:
        statement = statement.where(Module.updated_at < selection.before)
    if selection.set_spec is not None:
        parts = selection.set_spec.split(":")
        statement = statement.where(Module.country_code == parts[0])
        if len(parts) == 3 and parts[1] == "level":
            statement = statement.where(
                Module.id.in_(
                    select(module_levels.c.module_id)
                    .join(Level, Level.id == module_levels.c.level_id)
                    .where(Level.country_code == parts[0], Level.slug == parts[2])
                )
            )
        elif len(parts) == 3 and parts[1] == "subject":
            statement = statement.where(
                Module.subject_id.in_(
                    select(Subject.id).where(
                        Subject.country_code == parts[0], Subject.slug == parts[2]
                    )
                )
            )
        elif not (len(parts) == 1 or (len(parts) == 2 and parts[1] in ("level", "subject"))):
            statement = statement.where(False)
    return statement


def _tombstones(selection: Selection) -> list[ModuleTombstone]:
    statement = select(ModuleTombstone).where(ModuleTombstone.uid > selection.after)
    if selection.since is not None:
        statement = statement.where(ModuleTombstone.removed_at >= selection.since)
    if selection.before is not None:
        statement = statement.where(ModuleTombstone.removed_at < selection.before)
    if selection.set_spec is not None:
        country = selection.set_spec.split(":")[0]
        statement = statement.where(ModuleTombstone.country_code == country)
    found = db.session.scalars(statement.order_by(ModuleTombstone.uid)).all()
    if selection.set_spec is None:
        return list(found)
    return [t for t in found if in_set(t.country_code, t.set_specs, selection.set_spec)]


def in_set(country: str, specs: list[str], wanted: str) -> bool:
    """Tell whether a record of ``country`` with the sets ``specs`` is in the set ``wanted``."""
    return wanted == country or any(
        spec == wanted or spec.startswith(wanted + ":") for spec in specs
    )


def _with_metadata(statement):
    return statement.options(
        selectinload(Module.levels),
        selectinload(Module.subject),
        selectinload(Module.country),
        selectinload(Module.lessons).selectinload(Lesson.translations),
        selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
    )


def record_removals(session: Session, flush_context, instances) -> None:
    """Give a tombstone to every public module leaving view, and take it from one coming back.

    Runs before each flush, so every way a module leaves (removal, unpublishing, a bundle that
    withdraws it, a channel removed) is recorded in the same transaction.
    """
    # A bundle may replace a module by removing it and adding it again in the same flush.
    coming_back = {
        obj.uid for obj in session.new if isinstance(obj, Module) and obj.published is not False
    }
    for obj in list(session.deleted):
        if isinstance(obj, Module) and _was_published(obj) and obj.uid not in coming_back:
            _bury(session, obj)
    for obj in list(session.dirty):
        if isinstance(obj, Module):
            history = inspect(obj).attrs.published.history
            if not history.has_changes():
                continue
            if obj.published:
                _unbury(session, obj.uid)
            elif True in history.deleted:
                _bury(session, obj)
    for uid in coming_back:
        _unbury(session, uid)


def _was_published(module: Module) -> bool:
    history = inspect(module).attrs.published.history
    return bool(module.published) or True in history.deleted


def _bury(session: Session, module: Module) -> None:
    tombstone = session.get(ModuleTombstone, module.uid)
    if tombstone is None:
        tombstone = ModuleTombstone(uid=module.uid)
        session.add(tombstone)
    tombstone.country_code = module.country_code
    tombstone.set_specs = module_set_specs(module)
    tombstone.removed_at = datetime.now(UTC)


def _unbury(session: Session, uid: str) -> None:
    tombstone = session.get(ModuleTombstone, uid)
    if tombstone is not None:
        session.delete(tombstone)
