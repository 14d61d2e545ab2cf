"""What national editors upload: ZIPs of content, read, reported on and published.

Rows rather than memory, so that any worker of a national server can show them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db

# checking -> refused (the ZIP itself was refused: nothing of it is kept)
#          -> valid | problems (validated, kept in SHARED_DIR/uploads/<id>/, nothing loaded yet)
#          -> publishing -> published
# valid | problems -> expired (never published; the staged files were deleted)
UPLOAD_STATUSES = ("checking", "refused", "valid", "problems", "publishing", "published", "expired")
UPLOAD_KINDS = ("content", "course")


class ContentUpload(db.Model):
    """A ZIP a national editor uploaded: how it was read, what is wrong, what was published.

    Not to be confused with ``TeacherFile``, a file a teacher attaches to a submission.
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
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
