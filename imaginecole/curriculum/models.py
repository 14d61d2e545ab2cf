"""A country's curriculum framework (cycles, levels, domains, subjects, competencies) and its history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db
from imaginecole.localized import LocalizedMixin

competency_levels = db.Table(
    "competency_levels",
    db.Column("competency_id", ForeignKey("competency.id", ondelete="CASCADE"), primary_key=True),
    db.Column("level_id", ForeignKey("level.id", ondelete="CASCADE"), primary_key=True),
)


class Country(LocalizedMixin, db.Model):
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[dict] = mapped_column(JSON)
    languages: Mapped[list] = mapped_column(JSON)
    framework_id: Mapped[str] = mapped_column(String(80))
    framework_version: Mapped[str] = mapped_column(String(40))
    framework_title: Mapped[dict] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")

    cycles: Mapped[list[Cycle]] = relationship(
        back_populates="country", order_by="Cycle.position", cascade="all, delete-orphan"
    )
    levels: Mapped[list[Level]] = relationship(
        back_populates="country", order_by="Level.position", cascade="all, delete-orphan"
    )
    domains: Mapped[list[Domain]] = relationship(
        order_by="Domain.position", cascade="all, delete-orphan"
    )
    subjects: Mapped[list[Subject]] = relationship(
        back_populates="country", order_by="Subject.position", cascade="all, delete-orphan"
    )


class Cycle(LocalizedMixin, db.Model):
    __table_args__ = (UniqueConstraint("country_code", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[dict] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)

    country: Mapped[Country] = relationship(back_populates="cycles")
    levels: Mapped[list[Level]] = relationship(back_populates="cycle", order_by="Level.position")


class Level(LocalizedMixin, db.Model):
    __table_args__ = (UniqueConstraint("country_code", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code", ondelete="CASCADE"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    code: Mapped[str] = mapped_column(String(40))
    slug: Mapped[str] = mapped_column(String(60))
    isced: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int] = mapped_column(Integer)
    name: Mapped[dict] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)

    country: Mapped[Country] = relationship(back_populates="levels")
    cycle: Mapped[Cycle] = relationship(back_populates="levels")


class Domain(LocalizedMixin, db.Model):
    __table_args__ = (UniqueConstraint("country_code", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[dict] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Subject(LocalizedMixin, db.Model):
    __table_args__ = (UniqueConstraint("country_code", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code", ondelete="CASCADE"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"))
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[dict] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)

    country: Mapped[Country] = relationship(back_populates="subjects")
    domain: Mapped[Domain] = relationship()


class Competency(LocalizedMixin, db.Model):
    __table_args__ = (UniqueConstraint("country_code", "code"),)
    _localized_field = "label"

    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("competency.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(40))
    label: Mapped[dict] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)

    subject: Mapped[Subject] = relationship()
    parent: Mapped[Competency | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Competency]] = relationship(
        back_populates="parent", order_by="Competency.position"
    )
    levels: Mapped[list[Level]] = relationship(
        secondary=competency_levels, order_by="Level.position"
    )


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    changed_by: Mapped[User | None] = relationship()
