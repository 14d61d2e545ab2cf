"""Which published modules an export holds: a country, and optionally levels, subjects, a language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from imaginecole.config import LANGUAGES
from imaginecole.content.models import Lesson, Module
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.extensions import db
from sync.course.chapters import natural_key


class ExportError(Exception):
    """An export cannot be made; the message says why, for the person who asked.

    ``code`` names the reason for a page, which says it in its reader's language: "nothing"
    (no module to export), "write" (the file cannot be written), "no_library" (libzim is not
    installed) or "export" (any other).
    """

    def __init__(self, message: str, code: str = "export"):
        super().__init__(message)
        self.code = code


@dataclass
class Selection:
    """The modules of one export, with the levels and subjects its home page lists them by.

    ``lang`` is the language of the pages (their words and, where translated, the lessons).
    ``languages`` is ``lang`` alone when it was asked for, else every language of the lessons.
    """

    country: Country
    lang: str
    levels: list[Level]
    subjects: list[Subject]
    modules: list[Module]
    language_asked: bool
    levels_asked: bool = False
    subjects_asked: bool = False

    def modules_of(self, level: Level, subject: Subject) -> list[Module]:
        return [
            module
            for module in self.modules
            if module.subject_id == subject.id and any(lv.id == level.id for lv in module.levels)
        ]

    def grid(self) -> list[tuple[Level, list[tuple[Subject, list[Module]]]]]:
        """Return every level with the subjects that have modules in it, in curriculum order."""
        rows = []
        for level in self.levels:
            cells = [(s, found) for s in self.subjects if (found := self.modules_of(level, s))]
            if cells:
                rows.append((level, cells))
        return rows

    @property
    def languages(self) -> list[str]:
        """Return the languages the exported lessons are in, the pages' own first."""
        if self.language_asked:
            return [self.lang]
        found = {
            lesson.text_in(self.lang).lang for module in self.modules for lesson in module.lessons
        }
        return [self.lang] + sorted(found - {self.lang})

    @property
    def updated_at(self) -> datetime:
        """Return when the newest module of the selection last changed (the export's date)."""
        moments = [_aware(module.updated_at) for module in self.modules]
        return max(moments) if moments else datetime(2000, 1, 1, tzinfo=UTC)

    @property
    def slug(self) -> str:
        """Return a short name for files of this selection: ``sn``, ``sn-cm1-maths-fr``."""
        parts = [self.country.code]
        if self.levels_asked:
            parts += [level.slug for level in self.levels]
        if self.subjects_asked:
            parts += [subject.slug for subject in self.subjects]
        if self.language_asked:
            parts.append(self.lang)
        return "-".join(parts)


def choose(
    country: str,
    levels: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    language: str | None = None,
) -> Selection:
    """Return the published modules of ``country`` in the levels, subjects and language given.

    Levels are named by code or slug ("CM1", "cm1"), subjects by slug. Raise ExportError when
    a name is unknown or when nothing published matches.
    """
    found = db.session.get(Country, country.strip().lower())
    if found is None:
        known = ", ".join(sorted(db.session.scalars(select(Country.code)))) or "none"
        raise ExportError(f"No country {country!r} on this server (countries loaded: {known}).")
    if language is not None and language not in LANGUAGES:
        raise ExportError(f"No language {language!r}: choose one of {', '.join(LANGUAGES)}.")
    chosen_levels = [_level(found, name) for name in levels] if levels else list(found.levels)
    chosen_subjects = (
        [_subject(found, name) for name in subjects] if subjects else list(found.subjects)
    )
    level_ids = {level.id for level in chosen_levels}
    subject_ids = {subject.id for subject in chosen_subjects}
    candidates = db.session.scalars(
        select(Module)
        .filter_by(country_code=found.code, published=True)
        .where(Module.subject_id.in_(subject_ids))
        .options(
            selectinload(Module.lessons).selectinload(Lesson.translations),
            selectinload(Module.levels),
            selectinload(Module.subject),
            selectinload(Module.assets),
        )
    )
    modules = [
        module
        for module in candidates
        if any(level.id in level_ids for level in module.levels)
        and (language is None or language in module.languages)
    ]
    if not modules:
        raise ExportError(
            f"No published module of {found.code} matches this choice"
            f"{_described(levels, subjects, language)}: there is nothing to export.",
            code="nothing",
        )
    modules.sort(key=lambda module: natural_key(module.uid))
    return Selection(
        country=found,
        lang=language or _default_language(found),
        levels=sorted(chosen_levels, key=lambda level: level.position),
        subjects=sorted(chosen_subjects, key=lambda subject: subject.position),
        modules=modules,
        language_asked=language is not None,
        levels_asked=bool(levels),
        subjects_asked=bool(subjects),
    )


def _level(country: Country, name: str) -> Level:
    for level in country.levels:
        if name in (level.code, level.slug) or name.lower() == level.slug:
            return level
    known = ", ".join(level.code for level in country.levels)
    raise ExportError(f"No level {name!r} in {country.code} (levels: {known}).")


def _subject(country: Country, name: str) -> Subject:
    for subject in country.subjects:
        if name.lower() == subject.slug:
            return subject
    known = ", ".join(subject.slug for subject in country.subjects)
    raise ExportError(f"No subject {name!r} in {country.code} (subjects: {known}).")


def _default_language(country: Country) -> str:
    for lang in country.languages or ():
        if lang in LANGUAGES:
            return lang
    return current_app.config["DEFAULT_LANGUAGE"]


def _described(levels: tuple[str, ...], subjects: tuple[str, ...], language: str | None) -> str:
    parts = []
    if levels:
        parts.append("level " + ", ".join(levels))
    if subjects:
        parts.append("subject " + ", ".join(subjects))
    if language:
        parts.append("language " + language)
    return f" ({'; '.join(parts)})" if parts else ""


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
