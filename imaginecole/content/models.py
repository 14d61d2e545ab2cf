"""Modules (a unit of teaching material) and their lessons in one or more languages."""

from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.clock import utc_now
from imaginecole.extensions import db
from imaginecole.curriculum.models import Competency, Country, Level, Subject
from imaginecole.localized import Shown, pick
from imaginecole.media.models import Asset
from sync.model import ModuleInfo

LESSON_TITLE_CHARS = 300  # a longer title is cut when loaded

# The fields of ``sync.model.ModuleInfo`` kept as they are, each in the column of the same name.
# The others are mapped by the loader: id (``uid``), country (``country_code``), levels, subject,
# competencies and assesses (rows of the country's curriculum) and authors (dicts).
PLAIN_FIELDS = (
    "version",
    "language",
    "resource_type",
    "licence",
    "title",
    "summary",
    "keywords",
    "derived_from",
    "attribution",
)

module_levels = db.Table(
    "module_levels",
    db.Column("module_id", ForeignKey("module.id", ondelete="CASCADE"), primary_key=True),
    db.Column("level_id", ForeignKey("level.id", ondelete="CASCADE"), primary_key=True),
)

module_assets = db.Table(
    "module_assets",
    db.Column("module_id", ForeignKey("module.id", ondelete="CASCADE"), primary_key=True),
    db.Column("asset_sha256", ForeignKey("asset.sha256"), primary_key=True),
)


class Module(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(120), unique=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    resource_type: Mapped[str] = mapped_column(String(40))
    licence: Mapped[str] = mapped_column(String(60))
    title: Mapped[dict] = mapped_column(JSON)
    summary: Mapped[dict] = mapped_column(JSON)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    derived_from: Mapped[list] = mapped_column(JSON, default=list)
    authors: Mapped[list] = mapped_column(JSON, default=list)
    attribution: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # The bundle channel that installed it (school servers); None for content loaded here.
    channel: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

    country: Mapped[Country] = relationship()
    subject: Mapped[Subject] = relationship()
    levels: Mapped[list[Level]] = relationship(secondary=module_levels, order_by="Level.position")
    competency_links: Mapped[list[ModuleCompetency]] = relationship(
        cascade="all, delete-orphan", back_populates="module"
    )
    lessons: Mapped[list[Lesson]] = relationship(
        order_by="Lesson.position", cascade="all, delete-orphan", back_populates="module"
    )
    assets: Mapped[list[Asset]] = relationship(secondary=module_assets)

    def plain_fields(self) -> dict[str, object]:
        """Return a copy of the ``PLAIN_FIELDS`` of this module, to build its plain data with."""
        return {name: copy.deepcopy(getattr(self, name)) for name in PLAIN_FIELDS}

    def set_plain_fields(self, source: ModuleInfo) -> None:
        """Copy the ``PLAIN_FIELDS`` of ``source`` into this module's columns."""
        for name in PLAIN_FIELDS:
            setattr(self, name, getattr(source, name))

    def shown_title(self, lang: str) -> Shown:
        return pick(self.title, lang, self.language)

    def shown_summary(self, lang: str) -> Shown:
        return pick(self.summary, lang, self.language)

    def competencies(self, relation: str = "teaches") -> list[Competency]:
        return [link.competency for link in self.competency_links if link.relation == relation]

    @property
    def languages(self) -> list[str]:
        """Return the languages the whole module can be read in, its own first."""
        langs = [self.language]
        for lang in ("fr", "en", "ar"):
            if (
                lang not in langs
                and self.lessons
                and all(lang in lesson.texts for lesson in self.lessons)
            ):
                langs.append(lang)
        return langs


class ModuleCompetency(db.Model):
    module_id: Mapped[int] = mapped_column(
        ForeignKey("module.id", ondelete="CASCADE"), primary_key=True
    )
    competency_id: Mapped[int] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)  # teaches | assesses

    module: Mapped[Module] = relationship(back_populates="competency_links")
    competency: Mapped[Competency] = relationship()


class Lesson(db.Model):
    __table_args__ = (UniqueConstraint("module_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)

    module: Mapped[Module] = relationship(back_populates="lessons")
    translations: Mapped[list[LessonText]] = relationship(
        cascade="all, delete-orphan", back_populates="lesson"
    )

    @property
    def texts(self) -> dict[str, LessonText]:
        return {text.lang: text for text in self.translations}

    def text_in(self, lang: str) -> LessonText:
        """Return the lesson in ``lang`` if translated, else in the module's own language."""
        texts = self.texts
        return texts.get(lang) or texts.get(self.module.language) or next(iter(texts.values()))


class LessonText(db.Model):
    __table_args__ = (UniqueConstraint("lesson_id", "lang"),)
    # The loader always sets ``rendering``, and only maintenance reads it: never read back.
    __mapper_args__ = {"eager_defaults": False}
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(LESSON_TITLE_CHARS))
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)  # rendered once at load, sanitised
    # The RENDERING_VERSION that made ``html``: an older one is rendered again.
    rendering: Mapped[int] = mapped_column(Integer, server_default="0", deferred=True)
    media: Mapped[dict] = mapped_column(JSON, default=dict)  # target as written -> sha256

    lesson: Mapped[Lesson] = relationship(back_populates="translations")
