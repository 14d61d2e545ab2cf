"""Accounts of the people who edit or contribute. Pupils are anonymous and have none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from imaginecole.clock import utc_now
from imaginecole.extensions import db

ROLES = ("admin", "editor", "teacher")


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # admin | editor | teacher
    # Editors and teachers act for one country. An admin with no country (the ministry's, or
    # a school server's own) acts for all; an admin with one, for that country's accounts and
    # content, and with a school too, for that school's teachers only. Not a foreign key: a
    # school server enrols its teachers before its first bundle brings the country.
    country_code: Mapped[str | None] = mapped_column(String(2))
    school: Mapped[str] = mapped_column(String(200), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised at logout and password change: every session issued before is refused.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def manages_all(self) -> bool:
        """Whether this is an admin of every country (no country of their own)."""
        return self.role == "admin" and self.country_code is None

    def can_act_for(self, country_code: str) -> bool:
        return self.manages_all or self.country_code == country_code


class PasswordLink(db.Model):
    """A one-time link an admin hands over, with which its holder sets their own password.

    Only the SHA-256 of the link's secret is kept: the database cannot give the link away.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(db.Model):
    """A failed login, kept for a short while to slow down password guessing."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
