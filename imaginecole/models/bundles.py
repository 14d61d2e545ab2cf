"""Bundles built here (national server) and bundles installed here (school server)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from imaginecole.extensions import db
from imaginecole.models.modules import _now


class BuiltBundle(db.Model):
    """A signed bundle this server published; its manifest is kept to build the next delta."""

    __table_args__ = (UniqueConstraint("country_code", "channel", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)  # the exact signed JSON
    module_count: Mapped[int] = mapped_column(Integer)
    publisher_key_id: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class InstalledBundle(db.Model):
    """One bundle imported on this server; the newest per country and channel is what is installed."""

    __table_args__ = (UniqueConstraint("country_code", "channel", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[str] = mapped_column(
        String(40)
    )  # as the publisher wrote it; our clock is not trusted
    publisher_key_id: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    module_count: Mapped[int] = mapped_column(Integer)
    removed_count: Mapped[int] = mapped_column(Integer, default=0)
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
