"""Resources teachers submit, their revisions and files, and the packages that carry them upstream."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db

if TYPE_CHECKING:
    from imaginecole.review.models import Review

# draft -> submitted -> sent (school side, waiting for the national server)
# received -> changes_requested | accepted | rejected (national side, and back down to the school)
# withdrawn (by the teacher, at any time before a decision)
STATUSES = (
    "draft",
    "submitted",
    "sent",
    "received",
    "changes_requested",
    "accepted",
    "rejected",
    "withdrawn",
)
OPEN_LICENCES_FOR_TEACHERS = ("CC-BY-4.0", "CC-BY-SA-4.0")


class Submission(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)  # random, made on the school server
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # School side: the teacher's account. National side: None (teachers have no account there).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # National side: who sent it, from the enrolled server's key — never from the package.
    school_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    school_name: Mapped[str] = mapped_column(String(200), default="")
    teacher_ref: Mapped[str] = mapped_column(
        String(200), default=""
    )  # "<school key id>:<teacher id>"
    teacher_name: Mapped[str] = mapped_column(String(200), default="")
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    # The reviewer's last word to the teacher.
    comment: Mapped[str] = mapped_column(Text, default="")
    # School side: the national server confirmed the withdrawal, so exports stop carrying it.
    withdrawal_acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    module_uid: Mapped[str | None] = mapped_column(String(120))  # the module it became
    reviewed_revision_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

    author: Mapped[User | None] = relationship()
    revisions: Mapped[list[Revision]] = relationship(
        order_by="Revision.id", cascade="all, delete-orphan", back_populates="submission"
    )
    reviews: Mapped[list[Review]] = relationship(order_by="Review.id", cascade="all, delete-orphan")

    @property
    def latest(self) -> Revision:
        """Return the newest revision: of the revisions no other was edited from, the newest.

        With a conflict (two edits of one revision) the choice depends only on the revisions,
        never on the order their packages arrived in.
        """
        parents = {r.parent_uid for r in self.revisions}
        heads = [r for r in self.revisions if r.uid not in parents] or self.revisions
        return max(heads, key=lambda r: (r.created, r.uid))

    @property
    def editable(self) -> bool:
        return self.status in ("draft", "submitted", "sent", "changes_requested")


class Revision(db.Model):
    __table_args__ = (UniqueConstraint("submission_id", "uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    uid: Mapped[str] = mapped_column(String(64))  # fixed by its content and its parent
    parent_uid: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    levels: Mapped[list] = mapped_column(JSON)  # level codes
    subject: Mapped[str] = mapped_column(String(80))
    competencies: Mapped[list] = mapped_column(JSON)
    licence: Mapped[str] = mapped_column(String(40))
    markdown: Mapped[str] = mapped_column(Text)
    files: Mapped[list] = mapped_column(JSON)  # [{sha256, name, media_type, size}]
    created: Mapped[str] = mapped_column(String(40))  # ISO time as the author's server saw it
    # School side: the revision went out in a package / the national server confirmed it has it.
    exported: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)

    submission: Mapped[Submission] = relationship(back_populates="revisions")


class TeacherFile(db.Model):
    """A file a teacher uploaded, already checked and rebuilt; stored in the blob store."""

    __tablename__ = "upload"  # its name before national uploads (``ContentUpload``) came

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # /media/ looks files up by it
    name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ExportedPackage(db.Model):
    """A submission package written on this school server (for the outbox page)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    submission_count: Mapped[int] = mapped_column(Integer)
    revision_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
