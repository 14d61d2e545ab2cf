"""The history of a module's versions, as national teams curate it in the browser."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db

# What made a version: content files (`content load`), an upload in the browser, a course
# imported by command, a bundle, an editor in the browser, an accepted submission; "loaded"
# for versions recorded before the origin was (files or a bundle, nobody knows which).
VERSION_ORIGINS = ("files", "upload", "import", "bundle", "curation", "review", "loaded")


class ModuleVersion(db.Model):
    """One version of a module: what it was (a snapshot) and who changed what to make it.

    Keyed by the module's stable id, not its row, so the history outlives a module removed by a
    bundle and found again when it comes back. One row per version: two editors saving the same
    version at once collide on the unique constraint instead of one silently undoing the other.
    """

    __table_args__ = (UniqueConstraint("module_uid", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    module_uid: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # Metadata, lesson order and each lesson's fingerprint: enough to tell what changed.
    snapshot: Mapped[dict] = mapped_column(JSON)
    # None when the version came from content files or a bundle rather than from a person.
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # One line in the content format's field names, e.g. "levels: CM1 → CM1, CM2".
    summary: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(20), default="loaded")
    # Which upload, folder or submission, in a few words ("upload 12: cours-eau.zip").
    reference: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    changed_by: Mapped[User | None] = relationship()
