"""What national editors upload (ZIPs of content) and the bundle builds they start.

Both are rows rather than memory so that any worker of a national server can show them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.extensions import db
from imaginecole.models.accounts import User
from imaginecole.models.modules import _now

# checking -> refused (the ZIP itself was refused: nothing of it is kept)
#          -> valid | problems (validated, kept in DATA_DIR/uploads/<id>/, nothing loaded yet)
#          -> publishing -> published
# valid | problems -> expired (never published; the staged files were deleted)
UPLOAD_STATUSES = ("checking", "refused", "valid", "problems", "publishing", "published", "expired")
UPLOAD_KINDS = ("content", "course")
BUILD_STATUSES = ("running", "done", "failed")


class ContentUpload(db.Model):
    """A ZIP a national editor uploaded: how it was read, what is wrong, what was published.

    Named apart from ``Upload`` (a teacher's file) so both can live in one schema.
    """

    __tablename__ = "content_upload"
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(20), default="")  # content | course, '' until known
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="checking", index=True)
    # Course folders only: levels, subject, licence, id prefix chosen in the form.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    # Problems with file, line and field; the modules read; the load report once published.
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    editor: Mapped[User | None] = relationship(foreign_keys=[editor_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])

    @property
    def problems(self) -> list[dict]:
        return list((self.report or {}).get("problems", []))

    @property
    def valid_modules(self) -> list[dict]:
        return list((self.report or {}).get("modules", []))

    @property
    def publishable(self) -> bool:
        return self.status in ("valid", "problems")


class BuildJob(db.Model):
    """One bundle build started from the publishing page, with its progress in bytes."""

    # ``active`` is True while the build runs and NULL afterwards: NULLs never collide in a
    # unique constraint, so the database itself allows one running build per country, even
    # when two workers are asked at the same moment.
    __table_args__ = (UniqueConstraint("country_code", "active"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    channel: Mapped[str] = mapped_column(String(40), default="main")
    kind: Mapped[str] = mapped_column(String(10))  # full | delta
    base_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="running", index=True)
    active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int | None] = mapped_column(Integer)  # of the bundle built, once done
    error_code: Mapped[str] = mapped_column(String(20), default="")
    error_detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    editor: Mapped[User | None] = relationship()

    @property
    def percent(self) -> int:
        if not self.bytes_total:
            return 0
        return min(100, self.bytes_done * 100 // self.bytes_total)
