"""Recorded versions of a country's curriculum framework, each one the whole file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.extensions import db
from imaginecole.models.accounts import User
from imaginecole.models.modules import _now

# Where a version came from: the state found before the first change made here, a change made
# outside these pages (a content load, a bundle import), the browser editor, an uploaded file.
VERSION_SOURCES = ("start", "outside", "edit", "import")


class CurriculumVersion(db.Model):
    __table_args__ = (UniqueConstraint("country_code", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(
        ForeignKey("country.code", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)  # 1, 2 … per country
    # The whole curriculum.toml, so any version can be read, compared or loaded again as is.
    toml: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the curriculum this text holds
    source: Mapped[str] = mapped_column(String(20))
    # The changes from the version before, as sync.curriculum_file.Change dicts: stored as data,
    # not sentences, so each reader sees them in their own language.
    summary: Mapped[list] = mapped_column(JSON, default=list)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    changed_by: Mapped[User | None] = relationship()
