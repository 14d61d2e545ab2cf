"""The time rows are stamped with: aware UTC, whatever the server's local zone."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def as_utc(stamp: datetime) -> datetime:
    """Return a stamp read from the database as aware UTC (SQLite hands back naive ones)."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
