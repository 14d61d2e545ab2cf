"""The content generation: one number that every write to what readers see moves on."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from imaginecole.extensions import db


class ContentState(db.Model):
    """The single row whose ``generation`` names the state of the published content.

    Cached pages are stored under the generation they were rendered at; a write bumps it in its
    own transaction, so the commit that changes the content is the commit that retires the
    pages rendered from the old content, on every worker and every host at once.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
