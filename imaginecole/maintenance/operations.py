"""Check a server's data directory against its database, and repair what can be repaired.

A failed import, a full disk or a killed process can leave files nobody names: blobs no row
refers to, staging folders, temporary files, uploads never finished; and a search index that
lags behind the database; and lessons an older renderer made (``RENDERING_VERSION``). None of them is served or taken for content, but they hold disk
space (which a full disk needs back) and hide real problems. ``check_data`` finds them;
``repair`` removes or rebuilds them, under the import lock so that no import is running.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.content.operations import rerender_stale_lessons, stale_lessons
from imaginecole.datadir import import_lock, shared_path
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from imaginecole.media.queries import referenced_blobs
from imaginecole.search import search_index
from imaginecole.search.indexing import sync_index
from imaginecole.uploads.chunks import PARTIAL_LIFETIME
from imaginecole.uploads.models import ContentUpload
from imaginecole.uploads.operations import cleanup_uploads
from sync.container.staging import STAGING_DIR
from sync.storage import SHA256_HEX

# A blob younger than this may belong to a write whose row is not committed yet (a teacher's
# upload stores its file first): it is never called unreferenced.
GRACE = timedelta(hours=1)


@dataclass
class Leftovers:
    """Files of one kind that nothing uses, with their total size."""

    paths: list[Path] = field(default_factory=list)
    size: int = 0

    def add(self, path: Path) -> None:
        self.paths.append(path)
        self.size += _size(path)


@dataclass
class CheckReport:
    unreferenced: Leftovers = field(default_factory=Leftovers)  # blobs no row names
    staging: Leftovers = field(default_factory=Leftovers)  # staging folders, temporary files
    uploads: Leftovers = field(default_factory=Leftovers)  # upload folders with no upload
    partials: Leftovers = field(default_factory=Leftovers)  # pieces of abandoned uploads
    missing: list[str] = field(default_factory=list)  # blobs rows name but the store lacks
    index_stale: list[str] = field(default_factory=list)  # modules indexed other than stored
    index_extra: list[str] = field(default_factory=list)  # indexed, not in the database
    stale_lessons: int = 0  # lesson texts an older renderer made

    @property
    def clean(self) -> bool:
        return not (
            self.unreferenced.paths
            or self.staging.paths
            or self.uploads.paths
            or self.partials.paths
            or self.missing
            or self.index_stale
            or self.index_extra
            or self.stale_lessons
        )


def check_data(now: datetime | None = None) -> CheckReport:
    """Compare the blob store, staging and upload folders, and search index with the database."""
    now = now or datetime.now(UTC)
    report = CheckReport()
    store = blob_store()
    referenced = referenced_blobs()
    stored: set[str] = set()
    recent = (now - GRACE).timestamp()
    for path in _store_files(store.root):
        relative = path.relative_to(store.root)
        if relative.parts[0] == STAGING_DIR:
            continue
        if path.name.startswith(".tmp-"):
            if path.stat().st_mtime < recent:
                report.staging.add(path)
            continue
        if not SHA256_HEX.fullmatch(path.name) or path != store.path(path.name):
            continue  # not a blob of the store: left alone
        stored.add(path.name)
        if path.name not in referenced and path.stat().st_mtime < recent:
            report.unreferenced.add(path)
    staging_root = store.root / STAGING_DIR
    if staging_root.is_dir():
        for path in sorted(staging_root.iterdir()):
            report.staging.add(path)
    report.missing = sorted(referenced - stored)
    _check_uploads(report, now)
    _check_index(report)
    report.stale_lessons = stale_lessons()
    return report


def _store_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


def _check_uploads(report: CheckReport, now: datetime) -> None:
    uploads = shared_path("uploads")
    if not uploads.is_dir():
        return
    known = set(db.session.scalars(select(ContentUpload.id)))
    for path in sorted(uploads.iterdir()):
        if path.is_dir() and path.name.isdigit() and int(path.name) not in known:
            report.uploads.add(path)
    incoming = uploads / "incoming"
    if incoming.is_dir():
        limit = (now - PARTIAL_LIFETIME).timestamp()
        for path in sorted(incoming.iterdir()):
            if path.is_file() and path.stat().st_mtime < limit:
                report.partials.add(path)


def _check_index(report: CheckReport) -> None:
    index = search_index()
    indexed = index.fingerprints()
    current = dict(
        db.session.execute(
            select(Module.uid, Module.fingerprint).where(Module.published.is_(True))
        ).all()
    )
    report.index_stale = sorted(uid for uid, f in current.items() if indexed.get(uid) != f)
    report.index_extra = sorted(uid for uid in indexed if uid not in current)


@dataclass
class RepairReport:
    removed: int = 0  # files and folders
    freed: int = 0  # bytes
    uploads_cleaned: int = 0
    reindexed: int = 0
    rerendered: int = 0  # lesson texts


def repair(now: datetime | None = None) -> RepairReport:
    """Remove what ``check_data`` finds unused and bring the index up to date.

    Runs under the import lock (``ImportBusy`` while an import runs), and checks again under
    it, so that nothing an import is writing is taken for a leftover. Missing blobs cannot be
    made here: importing the bundle again, or restoring a backup, brings them back.
    """
    result = RepairReport()
    with import_lock():
        report = check_data(now)
        for leftovers in (report.unreferenced, report.staging, report.uploads):
            for path in leftovers.paths:
                _remove(path)
                result.removed += 1
            result.freed += leftovers.size
        result.freed += report.partials.size
        result.removed += len(report.partials.paths)
        result.uploads_cleaned = cleanup_uploads(now)
        result.rerendered = rerender_stale_lessons()
        if report.index_stale or report.index_extra:
            index = sync_index()
            result.reindexed = index.updated + index.removed
    return result


def rerender_lessons() -> int:
    """Render again the lessons an older renderer made, under the import lock; return how many.

    Raises ``ImportBusy`` while an import runs: the next start, upgrade or repair does it.
    """
    if not stale_lessons():  # the usual case: no lock taken
        return 0
    with import_lock():
        return rerender_stale_lessons()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
