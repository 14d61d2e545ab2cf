"""The national side of submissions: reviews, the school servers enrolled to send, packages received."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db

RUBRIC = ("curriculum_fit", "accuracy", "pedagogy", "accessibility", "licence")


class Review(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    revision_uid: Mapped[str] = mapped_column(String(64))
    scores: Mapped[dict] = mapped_column(JSON)  # rubric criterion -> 1..4
    decision: Mapped[str] = mapped_column(String(20))  # accept | changes | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # "single": the decision; "first": waits for the second reviewer; "second": their answer.
    stage: Mapped[str] = mapped_column(String(10), default="single")
    # A first review: "pending", then "confirmed" or "disagreed" by the second reviewer.
    outcome: Mapped[str] = mapped_column(String(12), default="")
    # What the reviewer changed before publishing (title, summary, markdown, levels …).
    edits: Mapped[dict] = mapped_column(JSON, default=dict)

    reviewer: Mapped[User] = relationship()


class ReviewAssignment(db.Model):
    """Who reviews a submission: the reviewer who claimed it, and an optional second reviewer.

    One row per submission: two reviewers claiming at once collide on the key, and the second
    is told who has it.
    """

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    second_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    second_reviewer: Mapped[User | None] = relationship(foreign_keys=[second_reviewer_id])


class EnrolledSchool(db.Model):
    """A school server allowed to send submission packages (national side)."""

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ReceivedPackage(db.Model):
    """A submission package merged on this national server, so a second copy is recognised."""

    manifest_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_key_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
