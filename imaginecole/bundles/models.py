"""Bundles built here (national server), their build jobs, and bundles installed here (school server)."""

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

from imaginecole.accounts.models import User
from imaginecole.clock import utc_now
from imaginecole.extensions import db


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
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # Empty for bundles built before the files' hashes were recorded.
    files: Mapped[list[BuiltBundleFile]] = relationship(
        order_by="BuiltBundleFile.id", cascade="all, delete-orphan"
    )


class BuiltBundleFile(db.Model):
    """One file of a built bundle as written (a bundle split for FAT32 has several).

    Its SHA-256 is computed once, at the build, for catalogues (OPDS) that announce it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("built_bundle.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class SigningKey(db.Model):
    """The key this server signs a country's bundles with; the newest row per country is in use.

    The first build of a country records its key; ``keys rotate`` records the next one, with the
    old key's signature over the change (``endorsement``) when the old key is still at hand.
    A build refuses to sign with any other key: every school trusts this one only.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2), index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))  # raw key, base64
    replaces_key_id: Mapped[str] = mapped_column(String(16), default="")
    endorsement: Mapped[str] = mapped_column(Text, default="")  # base64, by the replaced key
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class BundleInstallation(db.Model):
    """One install or removal of a country's bundles on this server, by whom, with what changed.

    Kept when a channel is removed (``InstalledBundle`` rows go with it): this is the school's
    record of what it installed, when, and what each version changed.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(10))  # install | remove
    country_code: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)  # installed, or the last one removed
    base_version: Mapped[int | None] = mapped_column(Integer)
    publisher_key_id: Mapped[str] = mapped_column(String(64), default="")
    modules_applied: Mapped[int] = mapped_column(Integer, default=0)
    modules_removed: Mapped[int] = mapped_column(Integer, default=0)
    # The changelog entries of the versions this install brought (``ChangelogEntry.to_data``):
    # those above the version installed before, as the bundle carried them.
    changelog: Mapped[list] = mapped_column(JSON, default=list)
    # None: by a command on the server itself.
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)

    by: Mapped[User | None] = relationship()


BUILD_STATUSES = ("running", "done", "failed")


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
    note: Mapped[str] = mapped_column(Text, default="")  # for the schools, in the changelog
    status: Mapped[str] = mapped_column(String(10), default="running", index=True)
    active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int | None] = mapped_column(Integer)  # of the bundle built, once done
    error_code: Mapped[str] = mapped_column(String(20), default="")
    error_detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    editor: Mapped[User | None] = relationship()

    @property
    def percent(self) -> int:
        if not self.bytes_total:
            return 0
        return min(100, self.bytes_done * 100 // self.bytes_total)
