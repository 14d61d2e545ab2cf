"""Modules that were public here and no longer are, for harvesters that copied them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from imaginecole.clock import utc_now
from imaginecole.extensions import db


class ModuleTombstone(db.Model):
    """A module that was removed or unpublished after it was public.

    Harvesters that copied it learn of the removal (``deletedRecord=persistent``), so the row
    keeps what they selected it by: its OAI sets. A module published again under the same id
    loses its tombstone.
    """

    uid: Mapped[str] = mapped_column(String(120), primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2), index=True)
    set_specs: Mapped[list] = mapped_column(JSON, default=list)
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
