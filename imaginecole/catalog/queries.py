"""Read-only queries behind the catalogue pages."""

from __future__ import annotations

from collections import defaultdict

from flask import abort
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from imaginecole.content.models import Lesson, LessonText, Module, ModuleCompetency, module_levels
from imaginecole.curriculum.models import Competency, Country, Level, Subject
from imaginecole.extensions import db
from imaginecole.i18n import LANGUAGE_NAMES
from imaginecole.pages.generation import PerGeneration
from imaginecole.templating import RESOURCE_TYPES
from sync.course.chapters import natural_key
from sync.text import fold_accents


def countries_with_counts(lang: str) -> list[tuple[Country, int]]:
    """Return every country with its number of published modules, by name in ``lang``."""
    counts = dict(
        db.session.execute(
            select(Module.country_code, func.count(Module.id))
            .where(Module.published.is_(True))
            .group_by(Module.country_code)
        ).all()
    )
    countries = sorted(
        db.session.scalars(select(Country)), key=lambda c: fold_accents(c.shown(lang).text).lower()
    )
    return [(c, counts.get(c.code, 0)) for c in countries]


def get_country(code: str) -> Country:
    return db.session.get(Country, code) or abort(404)


def get_level(country: Country, slug: str) -> Level:
    return db.session.scalar(
        select(Level).filter_by(country_code=country.code, slug=slug)
    ) or abort(404)


def get_subject(country: Country, slug: str) -> Subject:
    return db.session.scalar(
        select(Subject).filter_by(country_code=country.code, slug=slug)
    ) or abort(404)


def module_counts_by_level(country: Country) -> dict[int, int]:
    rows = db.session.execute(
        select(module_levels.c.level_id, func.count(Module.id))
        .join(Module, Module.id == module_levels.c.module_id)
        .where(Module.country_code == country.code, Module.published.is_(True))
        .group_by(module_levels.c.level_id)
    ).all()
    return dict(rows)


def module_counts_by_subject(level: Level) -> dict[int, int]:
    rows = db.session.execute(
        select(Module.subject_id, func.count(Module.id))
        .join(module_levels, Module.id == module_levels.c.module_id)
        .where(module_levels.c.level_id == level.id, Module.published.is_(True))
        .group_by(Module.subject_id)
    ).all()
    return dict(rows)


def modules_of(level: Level, subject: Subject) -> list[Module]:
    """Return the published modules of a class and subject, "chapitre-2" before "chapitre-10"."""
    modules = list(
        db.session.scalars(
            select(Module)
            .join(module_levels, Module.id == module_levels.c.module_id)
            .where(
                module_levels.c.level_id == level.id,
                Module.subject_id == subject.id,
                Module.published.is_(True),
            )
            .options(
                selectinload(Module.competency_links).selectinload(ModuleCompetency.competency)
            )
        )
    )
    return sorted(modules, key=lambda module: natural_key(module.uid))


def group_by_competency(modules: list[Module]) -> list[tuple[Competency | None, list[Module]]]:
    """Group modules under the top-level competency of the first competency each teaches."""
    groups: dict[Competency | None, list[Module]] = defaultdict(list)
    for module in modules:
        taught = module.competencies("teaches")
        root = _root(taught[0]) if taught else None
        groups[root].append(module)
    ordered = sorted((c for c in groups if c is not None), key=lambda c: (c.position, c.code))
    result: list[tuple[Competency | None, list[Module]]] = [(c, groups[c]) for c in ordered]
    if None in groups:
        result.append((None, groups[None]))
    return result


def _root(node: Competency) -> Competency:
    seen = set()
    while node.parent is not None and node.id not in seen:
        seen.add(node.id)
        node = node.parent
    return node


def get_module(uid: str) -> Module:
    """Return a published module with what its pages show, in a fixed number of queries.

    Lesson bodies are left out here (a corpus module can hold megabytes of them); the one
    lesson a page shows loads its own body.
    """
    module = db.session.scalar(
        select(Module)
        .filter_by(uid=uid, published=True)
        .options(
            selectinload(Module.lessons)
            .selectinload(Lesson.translations)
            .load_only(LessonText.id, LessonText.lesson_id, LessonText.lang, LessonText.title),
            selectinload(Module.levels),
            selectinload(Module.country),
            selectinload(Module.subject),
            selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
        )
    )
    return module or abort(404)


def get_module_with_texts(uid: str) -> Module:
    """Return a published module with the full text of every lesson (the printed module)."""
    module = db.session.scalar(
        select(Module)
        .filter_by(uid=uid, published=True)
        .options(
            selectinload(Module.lessons).selectinload(Lesson.translations),
            selectinload(Module.levels),
            selectinload(Module.country),
            selectinload(Module.subject),
        )
    )
    return module or abort(404)


def get_lesson(module: Module, slug: str) -> tuple[Lesson, Lesson | None, Lesson | None]:
    """Return the lesson with its previous and next lessons in the module."""
    for index, lesson in enumerate(module.lessons):
        if lesson.slug == slug:
            previous = module.lessons[index - 1] if index > 0 else None
            following = module.lessons[index + 1] if index + 1 < len(module.lessons) else None
            return lesson, previous, following
    abort(404)


def facet_labels(lang: str) -> dict[str, dict[str, str]]:
    """Return the display names of every value a search facet can take, in ``lang``.

    Worked out once per content generation: every search page shows them, and only a content
    write (a new country, class or subject, a renamed one) changes them.
    """
    return _facet_labels(lang)


def _all_facet_labels(lang: str) -> dict[str, dict[str, str]]:
    with force_locale(lang):
        return {
            "country": {c.code: c.shown(lang).text for c in db.session.scalars(select(Country))},
            "levels": {
                f"{level.country_code}:{level.slug}": f"{level.code} ({level.country_code.upper()})"
                for level in db.session.scalars(select(Level))
            },
            "subject": _subject_names(lang),
            "lang": dict(LANGUAGE_NAMES),
            "resource_type": {code: str(name) for code, name in RESOURCE_TYPES.items()},
        }


def _subject_names(lang: str) -> dict[str, str]:
    names: dict[str, str] = {}
    # Subjects of several countries may share a slug: the first one's name is shown.
    for subject in db.session.scalars(select(Subject).order_by(Subject.id)):
        names.setdefault(subject.slug, subject.shown(lang).text)
    return names


_facet_labels = PerGeneration(_all_facet_labels)
