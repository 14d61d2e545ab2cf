"""What changed since a country's last bundle, and building the next one in the background.

A build runs in a thread of the worker that was asked, inside its own app context, and
writes its progress (bytes done of bytes in all) to a ``BuildJob`` row so that every worker
can show it. The database allows one running build per country (see ``BuildJob.active``).
A worker that dies mid-build stops beating its job's heart; the next request to build marks
such a job as interrupted and starts afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from imaginecole.accounts.models import User
from imaginecole.bundles.keys import BundleSetupError
from imaginecole.bundles.models import BuildJob, BuiltBundle
from imaginecole.bundles.operations import build_country_bundle, module_sources
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.review.operations import submission_statuses
from sync.bundle import BuildError, BundleError, ChangelogEntry, locate_parts, parse_manifest
from sync.bundle.manifest import MAX_NOTE_CHARS

CHANNEL = "main"
HEARTBEAT = timedelta(seconds=20)
STALE_AFTER = timedelta(minutes=2)  # six missed heartbeats: the worker is gone
PROGRESS_EVERY = timedelta(seconds=1)  # progress written at most this often

log = logging.getLogger(__name__)


class BuildRefused(Exception):
    """A build cannot start; ``code`` says why (the keys of the page's BUILD_REFUSALS).

    ``busy``: one is running; ``no_base``: the delta's base was not built here; ``nothing``:
    nothing changed since the last bundle; ``note``: the note is too long.
    """

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# ---------------------------------------------------------------------------- changes


@dataclass
class ModuleChange:
    uid: str
    title: dict
    language: str
    version: int
    before: int | None = None  # its version in the last bundle
    version_not_raised: bool = False  # changed under the same number: a delta will refuse it


@dataclass
class Changes:
    base: BuiltBundle | None
    added: list[ModuleChange] = field(default_factory=list)
    changed: list[ModuleChange] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    curriculum_changed: bool = False
    statuses_pending: int = 0
    module_count: int = 0

    @property
    def any(self) -> bool:
        return bool(
            self.base is None
            or self.added
            or self.changed
            or self.removed
            or self.curriculum_changed
            or self.statuses_pending
        )

    @property
    def delta_blocked(self) -> bool:
        return any(change.version_not_raised for change in self.changed)


def last_bundle(country: str, channel: str = CHANNEL) -> BuiltBundle | None:
    return db.session.scalar(
        select(BuiltBundle)
        .filter_by(country_code=country, channel=channel)
        .order_by(BuiltBundle.version.desc())
        .limit(1)
    )


def changes_since_last_bundle(country: str, channel: str = CHANNEL) -> Changes:
    """Compare the country's published modules, curriculum and review decisions with its last bundle.

    Modules are compared as the bundle builder sees them (rebuilt from the database), so what
    is listed here is exactly what a delta would carry.
    """
    base = last_bundle(country, channel)
    changes = Changes(base=base)
    sources = module_sources(country)
    changes.module_count = len(sources)
    statuses = submission_statuses(country)
    if base is None:
        changes.added = [_change(source) for source in sources]
        changes.curriculum_changed = curriculum_of(country) is not None
        changes.statuses_pending = len(statuses)
        return changes
    manifest = parse_manifest(base.manifest.encode())
    current_ids = set()
    for source in sources:
        current_ids.add(source.id)
        before = manifest.index.get(source.id)
        if before is None:
            changes.added.append(_change(source))
            continue
        fingerprint = source.fingerprint()
        # A new number alone is a change too: schools refer to modules by their version.
        if before.fingerprint != fingerprint or before.version != source.version:
            change = _change(source, before.version)
            change.version_not_raised = (
                before.fingerprint != fingerprint and source.version <= before.version
            )
            changes.changed.append(change)
    changes.removed = sorted(set(manifest.index) - current_ids)
    curriculum = curriculum_of(country)
    changes.curriculum_changed = (
        curriculum is not None and curriculum.fingerprint() != manifest.curriculum.fingerprint()
    )
    shipped = set(manifest.submission_statuses)
    changes.statuses_pending = sum(1 for item in statuses if item not in shipped)
    return changes


def _change(source, before: int | None = None) -> ModuleChange:
    return ModuleChange(
        uid=source.id,
        title=dict(source.title),
        language=source.language,
        version=source.version,
        before=before,
    )


# ---------------------------------------------------------------------------- jobs


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def is_stale(job: BuildJob, now: datetime | None = None) -> bool:
    """Tell whether a job marked running has stopped beating (its worker died)."""
    now = now or datetime.now(UTC)
    return job.status == "running" and now - _aware(job.heartbeat_at) > STALE_AFTER


def latest_job(country: str) -> BuildJob | None:
    return db.session.scalar(
        select(BuildJob)
        .filter_by(country_code=country)
        .order_by(BuildJob.started_at.desc(), BuildJob.id.desc())
        .limit(1)
    )


def running_job(country: str) -> BuildJob | None:
    job = db.session.scalar(select(BuildJob).filter_by(country_code=country, active=True))
    return job if job is not None and not is_stale(job) else None


def start_build(
    country: str, editor: User, kind: str, since: int | None = None, note: str = ""
) -> BuildJob:
    """Record a build of the next bundle (``full`` or ``delta``) and start it in the background.

    A delta holds the changes since version ``since`` (by default the last one built): a
    school that has an older version gets one made for it. Raise BuildRefused when one is
    already running for the country, when nothing changed since the last bundle, or when the
    delta's base was never built here.
    """
    if kind not in ("full", "delta"):
        raise ValueError(kind)
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise BuildRefused("note")
    changes = changes_since_last_bundle(country)
    if not changes.any:
        raise BuildRefused("nothing")
    base = None
    if kind == "delta":
        base = changes.base if since is None else find_built(country, since)
        if base is None:
            raise BuildRefused("no_base")
    _retire_stale(country)
    job = BuildJob(
        country_code=country,
        editor_id=editor.id,
        channel=CHANNEL,
        kind=kind,
        base_version=base.version if base is not None else None,
        note=note,
        status="running",
        active=True,
    )
    db.session.add(job)
    try:
        # Committed before the thread starts: the build reads its job in a session of its
        # own, and every worker shows the job's progress.
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise BuildRefused("busy") from None
    launch(current_app._get_current_object(), job.id)
    return job


def _retire_stale(country: str) -> None:
    job = db.session.scalar(select(BuildJob).filter_by(country_code=country, active=True))
    if job is not None and is_stale(job):
        _finish(job.id, "failed", error_code="interrupted")


def launch(app: Flask, job_id: int) -> threading.Thread:
    """Run the build in a thread of this worker (tests replace this to run it in place)."""
    thread = threading.Thread(
        target=run_build, args=(app, job_id), name=f"bundle-build-{job_id}", daemon=True
    )
    thread.start()
    return thread


def run_build(app: Flask, job_id: int) -> None:
    """Build the bundle a job describes, recording progress and the outcome on the job."""
    with app.app_context():
        job = db.session.get(BuildJob, job_id)
        if job is None or job.status != "running":
            return
        country, since, note = job.country_code, job.base_version, job.note
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(app, job_id, stop), daemon=True)
        beat.start()
        try:
            built = build_country_bundle(
                country, since=since, progress=_recorder(job_id), note=note
            )
            db.session.commit()  # the thread is its own caller
        except BundleSetupError as error:
            _finish(job_id, "failed", error_code="setup", detail=str(error))
        except BuildError as error:
            _finish(job_id, "failed", error_code="build", detail=str(error))
        except BundleError as error:
            _finish(job_id, "failed", error_code="build", detail=str(error))
        except Exception:
            log.exception("Bundle build %s of %s failed", job_id, country)
            db.session.rollback()
            _finish(job_id, "failed", error_code="unexpected")
        else:
            _finish(job_id, "done", version=built.version, size=built.size)
        finally:
            stop.set()
            beat.join(timeout=5)
            db.session.remove()


def _recorder(job_id: int) -> Callable[[int, int], None]:
    last = [datetime.min.replace(tzinfo=UTC)]

    def record(done: int, total: int) -> None:
        now = datetime.now(UTC)
        if done < total and now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        # Its own short transaction, apart from the build's session and its reads.
        with db.engine.begin() as connection:
            connection.execute(
                update(BuildJob)
                .where(BuildJob.id == job_id)
                .values(bytes_done=done, bytes_total=total, heartbeat_at=now)
            )

    return record


def _heartbeat(app: Flask, job_id: int, stop: threading.Event) -> None:
    # Reading the modules and planning the bundle reports no progress; the heart still beats.
    with app.app_context():
        while not stop.wait(HEARTBEAT.total_seconds()):
            try:
                with db.engine.begin() as connection:
                    connection.execute(
                        update(BuildJob)
                        .where(BuildJob.id == job_id, BuildJob.status == "running")
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except Exception:  # a busy database: the next beat will do
                log.warning("Could not record the heartbeat of build %s", job_id, exc_info=True)


def _finish(
    job_id: int,
    status: str,
    *,
    error_code: str = "",
    detail: str = "",
    version: int | None = None,
    size: int | None = None,
) -> None:
    values: dict = {
        "status": status,
        "active": None,
        "finished_at": datetime.now(UTC),
        "error_code": error_code,
        "error_detail": detail[:2000],
    }
    if version is not None:
        values["version"] = version
    if size is not None:
        values["bytes_done"] = values["bytes_total"] = size
    with db.engine.begin() as connection:
        connection.execute(update(BuildJob).where(BuildJob.id == job_id).values(**values))


# ---------------------------------------------------------------------------- built bundles


@dataclass
class BundleFile:
    path: Path
    size: int
    part: int | None  # 1, 2 … for a bundle split into parts; None for one file


def bundle_files(bundle: BuiltBundle) -> list[BundleFile]:
    """Return the file(s) a built bundle is made of, as they are on disk now (may be none)."""
    path = Path(bundle.path)
    name = path.with_suffix("") if path.suffix[1:].isdigit() else path
    try:
        parts = locate_parts(name)
    except BundleError:
        return []
    if len(parts) == 1 and parts[0] == name:
        return [BundleFile(name, name.stat().st_size, None)]
    return [BundleFile(p, p.stat().st_size, n) for n, p in enumerate(parts, start=1)]


def own_changelog(bundle: BuiltBundle) -> ChangelogEntry | None:
    """Return what a built version changed, as recorded in it (None for bundles built before)."""
    entries = parse_manifest(bundle.manifest.encode()).changelog
    return next((entry for entry in entries if entry.version == bundle.version), None)


def find_built(country: str, version: int, channel: str = CHANNEL) -> BuiltBundle | None:
    return db.session.scalar(
        select(BuiltBundle).filter_by(country_code=country, channel=channel, version=version)
    )
