"""Build bundles from this server's database, and import bundles into it.

``sync.bundle`` does the checking and copying; this module decides versions, applies a staged
bundle to the database in one transaction and keeps the history. The search index follows
after the commit.

A build, an import and a channel's removal commit themselves, before they release their lock:
the next build must find the version this one took, the next import the rows this one wrote.
An import then brings the search index up to date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from imaginecole.accounts.models import User
from imaginecole.bundles.keys import (
    BundleSetupError,
    current_trust,
    fingerprint,
    record_first_key,
    signing_key_for,
)
from imaginecole.bundles.models import (
    BuiltBundle,
    BuiltBundleFile,
    BundleInstallation,
    InstalledBundle,
)
from imaginecole.content.models import Lesson, Module, ModuleCompetency
from imaginecole.content.operations import (
    IN_BATCH,
    LoadReport,
    ModuleNotApplied,
    RenderedLessons,
    apply_modules,
    load_curriculum,
    remove_module,
    render_lessons,
)
from imaginecole.content.sources import to_source
from imaginecole.curation.operations import record_removal, record_version
from imaginecole.curriculum.models import Country
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.datadir import (
    build_lock,
    import_lock,
    shared_path,
)
from imaginecole.extensions import db
from imaginecole.locks import lock_row
from imaginecole.media.operations import blob_store
from imaginecole.media.queries import referenced_blobs
from imaginecole.review.operations import submission_statuses
from imaginecole.search.indexing import IndexAhead, index_ahead, sync_index
from imaginecole.submissions.outbox import apply_statuses
from sync import model as fmt
from sync.bundle import (
    BundleError,
    Candidate,
    ChangedModule,
    ChangelogEntry,
    DiskFull,
    Found,
    InstalledState,
    Manifest,
    StagedBundle,
    SubmissionStatus,
    TrustStore,
    WhileCopying,
    build_bundle,
    parse_manifest,
    plan_catch_up,
    read_manifest,
    select_modules,
    stage_bundle,
)
from sync.bundle.catchup import INSTALL
from sync.bundle.stage import withdraw
from sync.container.staging import RESERVE_BYTES, free_space, is_disk_full
from sync.storage import BlobStore

Progress = Callable[[int, int], None]
CHANGELOG_IN_FULL = 10  # how many versions back a full bundle tells the schools about


class NothingChanged(BundleError):
    """Nothing changed since the last bundle: a new one would make every school install nothing."""

    def __init__(self, country: str, channel: str, version: int):
        super().__init__(
            f"nothing changed in {country} ({channel}) since version {version}: no bundle built"
        )
        self.version = version


@dataclass
class ImportReport:
    country: str
    channel: str
    version: int
    noop: bool = False
    modules_applied: int = 0
    modules_removed: int = 0
    blobs_copied: int = 0
    blobs_reused: int = 0
    bytes_copied: int = 0
    index_behind: str = ""  # why the search index could not follow, when it could not


# ---------------------------------------------------------------------------- building


def next_version(country: str, channel: str) -> int:
    latest = db.session.scalar(
        select(func.max(BuiltBundle.version)).filter_by(country_code=country, channel=channel)
    )
    return (latest or 0) + 1


def module_sources(
    country: str, levels: list[str] | None = None, subjects: list[str] | None = None
) -> list[fmt.Module]:
    """Return the country's published modules as ``sync.content`` data, blobs read from the store."""
    store = blob_store()
    modules = db.session.scalars(
        select(Module)
        .filter_by(country_code=country, published=True)
        .options(
            selectinload(Module.lessons).selectinload(Lesson.translations),
            selectinload(Module.levels),
            selectinload(Module.subject),
            selectinload(Module.assets),
            selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
        )
        .order_by(Module.uid)
    )
    return [to_source(module, store) for module in modules]


def build_country_bundle(
    country: str,
    *,
    since: int | None = None,
    channel: str = "main",
    levels: list[str] | None = None,
    subjects: list[str] | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    note: str = "",
    allow_unchanged: bool = False,
) -> BuiltBundle:
    """Build and sign the next bundle of a country (a delta when ``since`` names a built one).

    ``note`` is what the national team tells the schools about this version; it travels in
    the changelog with what changed. Raise NothingChanged when nothing did since the last
    bundle of the channel, whatever the base: an empty version is one every school would have
    to install for nothing, and a delta from an older base would strand the schools that have
    the newest. ``allow_unchanged`` builds it all the same (a full bundle signed by a new key,
    after a rotation). Commits itself. Two builds of one channel at once take turns (a lock on this server, and
    the country's row on PostgreSQL, for builds on several hosts): the second waits for the
    first to commit, then numbers its bundle after it.
    """
    with build_lock(country, channel):
        lock_row(Country, country)
        curriculum = curriculum_of(country)
        if curriculum is None:
            raise BundleSetupError(f'Country "{country}" is not loaded on this server.')
        base_manifest: Manifest | None = None
        if since is not None:
            base = db.session.scalar(
                select(BuiltBundle).filter_by(country_code=country, channel=channel, version=since)
            )
            if base is None:
                raise BundleSetupError(
                    f"No bundle version {since} of {country} ({channel}) was built here; a delta needs it."
                )
            base_manifest = parse_manifest(base.manifest.encode())
        version = next_version(country, channel)
        key = signing_key_for(country)  # a missing or wrong key is told first
        sources = module_sources(country)
        statuses = submission_statuses(country)
        try:
            entry = changelog_entry(
                country, channel, sources, curriculum, statuses, version, note, levels, subjects
            )
        except NothingChanged:
            if not allow_unchanged:
                raise
            entry = ChangelogEntry(version=version, note=note.strip())
        changelog = [entry]
        if version > 1:
            oldest = base_manifest.version + 1 if base_manifest else version - CHANGELOG_IN_FULL
            changelog = recorded_changelog(country, channel, oldest, version) + changelog
        out_dir = out_dir or shared_path("bundles")
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = out_dir / f"{country}-{channel}-v{version}.icb"
        manifest = build_bundle(
            sources,
            curriculum,
            country,
            version,
            out_path,
            key,
            base_manifest=base_manifest,
            levels=levels,
            subjects=subjects,
            channel=channel,
            created=_newest_change(country),
            progress=progress,
            submission_statuses=statuses,
            changelog=changelog,
        )
        parts = sorted(out_dir.glob(out_path.name + "*"))
        built = BuiltBundle(
            country_code=country,
            channel=channel,
            version=version,
            base_version=since,
            path=str(out_path if out_path.exists() else parts[0]),
            size=sum(p.stat().st_size for p in parts),
            manifest=manifest.to_json_bytes().decode(),
            module_count=len(manifest.modules),
            publisher_key_id=key.key_id,
            files=file_rows(parts),
        )
        record_first_key(country, key)
        db.session.add(built)
        # Committed here, as a protocol between builds: the version this one took is recorded
        # before the next build of the channel reads the next number.
        db.session.commit()
    return built


def changelog_entry(
    country: str,
    channel: str,
    sources: list[fmt.Module],
    curriculum: fmt.Curriculum,
    statuses: list[SubmissionStatus],
    version: int,
    note: str,
    levels: list[str] | None = None,
    subjects: list[str] | None = None,
) -> ChangelogEntry:
    """Return what ``version`` changes against the last bundle of the channel.

    Raise NothingChanged when it changes nothing. The first bundle lists no module: all of
    them are new to every school.
    """
    note = note.strip()
    last = db.session.scalar(
        select(BuiltBundle)
        .filter_by(country_code=country, channel=channel)
        .order_by(BuiltBundle.version.desc())
        .limit(1)
    )
    if last is None:
        return ChangelogEntry(version=version, note=note)
    before = parse_manifest(last.manifest.encode())
    shipped = select_modules(sources, curriculum, levels, subjects)
    modules = []
    for source in shipped:
        known = before.index.get(source.id)
        if known is None:
            modules.append(ChangedModule(source.id, "added", dict(source.title)))
        elif known.fingerprint != source.fingerprint() or known.version != source.version:
            modules.append(ChangedModule(source.id, "changed", dict(source.title)))
    titles = {m.id: dict(m.title) for m in before.modules}
    gone = sorted(set(before.index) - {source.id for source in shipped})
    modules += [ChangedModule(uid, "removed", titles.get(uid, {})) for uid in gone]
    sent = set(before.submission_statuses)
    entry = ChangelogEntry(
        version=version,
        note=note,
        modules=tuple(modules),
        curriculum_changed=curriculum.fingerprint() != before.curriculum.fingerprint(),
        decisions=sum(1 for item in statuses if item not in sent),
    )
    if not (entry.modules or entry.curriculum_changed or entry.decisions):
        raise NothingChanged(country, channel, last.version)
    return entry


def recorded_changelog(
    country: str, channel: str, oldest: int, version: int
) -> list[ChangelogEntry]:
    """Return the changelog entries versions ``oldest`` to ``version - 1`` recorded when built."""
    rows = db.session.scalars(
        select(BuiltBundle)
        .filter_by(country_code=country, channel=channel)
        .filter(BuiltBundle.version >= oldest, BuiltBundle.version < version)
        .order_by(BuiltBundle.version)
    )
    entries = []
    for row in rows:
        own = [
            e for e in parse_manifest(row.manifest.encode()).changelog if e.version == row.version
        ]
        entries += own  # bundles built before changelogs existed have none
    return entries


def _newest_change(country: str):
    # The newest module change dates the bundle, so building the same content twice gives
    # the same manifest (a build never reads the clock).
    return db.session.scalar(select(func.max(Module.updated_at)).filter_by(country_code=country))


# ---------------------------------------------------------------------------- importing


def installed_state(trust: TrustStore) -> InstalledState:
    """Return the versions installed here, those signed by keys ``trust`` revokes left out."""
    rows = db.session.execute(
        select(
            InstalledBundle.country_code,
            InstalledBundle.channel,
            InstalledBundle.version,
            InstalledBundle.publisher_key_id,
        ).order_by(InstalledBundle.version)
    ).all()
    state = InstalledState()
    for country, channel, version, key_id in rows:  # by version: the newest comes last
        if key_id in trust.revoked:
            state.revoked[(country, channel)] = key_id
        else:
            state.versions[(country, channel)] = version
            state.revoked.pop((country, channel), None)
    return state


def import_bundle(
    path: Path | str, progress: Progress | None = None, by: User | None = None
) -> ImportReport:
    """Check, stage and apply a bundle; on any refusal nothing changes (BundleError says why).

    ``by`` is the admin who installs it in the browser (None: a command), for the record.

    A full disk anywhere (copying, the database, the search index) is one ``DiskFull`` saying
    how much space is needed. Once the import is committed, an index that cannot follow
    (``ImportReport.index_behind``) catches up at the next import or start.
    """
    trust = current_trust()
    rendered: RenderedLessons = {}
    ahead: IndexAhead | None = None

    def work_while_copying(staged: StagedBundle, copying: Callable[[], bool]) -> None:
        # Rendering Markdown and indexing are the import's longest steps after copying; a
        # second process copies meanwhile. Nothing is written to the database before the copy
        # is done, and searches see the new index only once the database is committed.
        nonlocal ahead
        rendered.update(render_lessons(staged.modules, staged.arriving))
        ahead = index_ahead(staged.modules, staged.curriculum, rendered, copying)

    try:
        with import_lock():
            report, written = _import_locked(
                Path(path), trust, progress, work_while_copying, rendered, by
            )
            if ahead is not None:
                ahead.publish(written)
    except BaseException as error:
        if ahead is not None:
            _discard_quietly(ahead)
        if isinstance(error, Exception) and not isinstance(error, DiskFull) and is_full(error):
            raise DiskFull(str(shared_path()), RESERVE_BYTES, free_space(shared_path())) from error
        raise
    else:
        if ahead is not None:
            _discard_quietly(ahead)
    # Also an index left behind by an import killed after its commit catches up here, so
    # running the import again always completes it.
    try:
        sync_index()
    except OSError as error:
        # The import is committed and serving; only searches lag behind until the next
        # import or start-up brings the index up to date.
        report.index_behind = error.strerror or str(error)
    return report


def _discard_quietly(ahead: IndexAhead) -> None:
    """Drop an index update prepared ahead, never hiding the import's own error behind it."""
    try:
        ahead.discard()
    except OSError:
        pass  # its files are deleted by the next index write


def is_full(error: BaseException) -> bool:
    """Tell whether ``error``, or an error behind it, means the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if is_disk_full(current):
            return True
        message = str(getattr(current, "orig", None) or current).lower()
        # SQLite says "database or disk is full"; PostgreSQL "No space left on device".
        if isinstance(current, SQLAlchemyError) and (
            "disk is full" in message or "no space left" in message
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _import_locked(
    path: Path,
    trust: TrustStore,
    progress: Progress | None,
    while_copying: WhileCopying,
    rendered: RenderedLessons,
    by: User | None = None,
) -> tuple[ImportReport, dict[str, str]]:
    """Stage and apply a bundle, committed; the caller holds the import lock.

    Also return the fingerprint of each module written and shown (what the index may hold).
    """
    store = blob_store()
    staged = stage_bundle(
        path, trust, store, installed_state(trust), progress=progress, while_copying=while_copying
    )
    report = ImportReport(
        country=staged.country,
        channel=staged.channel,
        version=staged.version,
        noop=staged.noop,
        blobs_copied=staged.copied,
        blobs_reused=staged.reused,
        bytes_copied=staged.bytes_copied,
    )
    if staged.noop:
        installed = db.session.scalar(
            select(InstalledBundle).filter_by(
                country_code=staged.country, channel=staged.channel, version=staged.version
            )
        )
        if installed is not None and installed.manifest_sha256 != staged.manifest_sha256:
            # Same number, other content: the publisher rebuilt a version (a reset database?).
            raise BundleError(
                f"A different bundle numbered {staged.version} of {staged.country} ({staged.channel}) "
                "is already installed; ask the national team for a bundle with a higher version."
            )
        return report, {}
    try:
        same_version = _previous_install(staged, trust)
        installed_before = db.session.scalar(
            select(func.max(InstalledBundle.version)).filter_by(
                country_code=staged.country, channel=staged.channel
            )
        )
        load_report = LoadReport()
        load_curriculum(staged.curriculum, load_report)
        before = _versions_of([source.id for source in staged.modules])
        try:
            applied = apply_modules(staged.modules, load_report, rendered)
        except ModuleNotApplied as error:
            # An image this server will not decode, a full disk…: a refusal like any other.
            raise BundleError(str(error)) from error
        reference = bundle_reference(staged, trust)
        for module in applied:
            module.channel = staged.channel
            if before.get(module.uid) != (module.version, module.fingerprint):
                record_version(module, "bundle", by, reference)
        installed = db.session.scalars(
            select(Module.uid).filter_by(country_code=staged.country, channel=staged.channel)
        ).all()
        removals = staged.removals(installed)
        for uid in removals:
            _remove_recorded(uid, by, f"removed by {reference}")
        apply_statuses(staged.submission_statuses)
        if same_version is None:
            db.session.add(
                InstalledBundle(
                    country_code=staged.country,
                    channel=staged.channel,
                    version=staged.version,
                    base_version=staged.manifest.base_version,
                    created=staged.manifest.created,
                    publisher_key_id=staged.manifest.publisher_key_id,
                    manifest_sha256=staged.manifest_sha256,
                    module_count=len(staged.modules),
                    removed_count=len(removals),
                )
            )
        db.session.add(
            BundleInstallation(
                action="install",
                country_code=staged.country,
                channel=staged.channel,
                version=staged.version,
                base_version=staged.manifest.base_version,
                publisher_key_id=staged.manifest.publisher_key_id,
                modules_applied=len(staged.modules),
                modules_removed=len(removals),
                changelog=[
                    entry.to_data()
                    for entry in staged.manifest.changelog
                    if entry.version > (installed_before or 0)
                ],
                by_id=by.id if by is not None else None,
            )
        )
        # Read before the commit expires them: what the index may show of each module.
        written = {m.uid: m.fingerprint for m in applied if m.published}
        # The import's own commit, under the lock: the old state serves until this very
        # moment, and the index prepared ahead is published only after it.
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _withdraw_quietly(staged, store)
        raise
    report.modules_applied = len(staged.modules)
    report.modules_removed = len(removals)
    return report, written


def _versions_of(uids: list[str]) -> dict[str, tuple[int, str]]:
    """Return the version and fingerprint of each module of ``uids`` this server has."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(uids), IN_BATCH):
        rows = db.session.execute(
            select(Module.uid, Module.version, Module.fingerprint).where(
                Module.uid.in_(uids[start : start + IN_BATCH])
            )
        )
        found.update((uid, (version, fingerprint)) for uid, version, fingerprint in rows)
    return found


def bundle_reference(staged: StagedBundle, trust: TrustStore) -> str:
    """Return what a module's history says of the versions this bundle brings.

    The key is named by its fingerprint, as schools compare it by phone on the trust page.
    """
    key_id = staged.manifest.publisher_key_id
    trusted = trust.get(key_id)
    key = fingerprint(trusted.public_key) if trusted is not None else key_id
    return f"bundle v{staged.version} of {staged.country} ({staged.channel}), signed by {key}"


def _withdraw_quietly(staged: StagedBundle, store: BlobStore) -> None:
    """Move a failed import's blobs back to staging, never hiding the import's own error.

    The store then keeps no file of an import that did not commit, and the next attempt
    reuses them; whatever cannot be moved is found by ``imaginecole check``.
    """
    try:
        withdraw(staged, store, keep=referenced_blobs(set(staged.published)))
    except Exception:  # the database or the disk that failed the import may fail this too
        pass


def _previous_install(staged: StagedBundle, trust: TrustStore) -> InstalledBundle | None:
    """Forget what a revoked key installed on the channel; return this version's row, if any.

    Only for content a full bundle replaces after a key was revoked: the revoked key's rows
    would otherwise keep its inflated versions. The real publisher's row of this very version
    (the one installed before the theft) is kept and returned.
    """
    if not staged.replaces_revoked:
        return None
    rows = db.session.scalars(
        select(InstalledBundle).filter_by(country_code=staged.country, channel=staged.channel)
    )
    same_version = None
    for row in rows:
        if row.publisher_key_id in trust.revoked:
            db.session.delete(row)
        elif row.version == staged.version:
            if row.manifest_sha256 != staged.manifest_sha256:
                raise BundleError(
                    f"A different bundle numbered {staged.version} of {staged.country} "
                    f"({staged.channel}) is already installed; ask the national team for a "
                    "bundle with a higher version."
                )
            same_version = row
    db.session.flush()
    return same_version


# ---------------------------------------------------------------------------- catching up


def survey_bundles(paths: list[Path]) -> list[Candidate]:
    """Read the manifest of every bundle found and say what installing each would do.

    Raise BundleSetupError (or a TrustFileError) when this server has no usable trust file:
    then no bundle can be judged.
    """
    trust = current_trust()
    found = []
    for path in paths:
        try:
            found.append(Found(path, read_manifest(path, trust)))
        except BundleError as error:
            found.append(Found(path, problem=error))
    return plan_catch_up(found, installed_state(trust))


@dataclass
class CatchUpReport:
    installed: list[ImportReport]
    failed: Candidate | None = None  # the bundle whose import was refused; the rest waits
    error: BundleError | None = None
    waiting: int = 0  # bundles of the plan not tried because one before them failed


def install_all(
    paths: list[Path],
    progress: Callable[[Candidate], Progress | None] | None = None,
    by: User | None = None,
) -> CatchUpReport:
    """Install every bundle the plan names, in its order, stopping at the first refusal.

    Each import commits on its own: those before a refusal stay installed, and running
    this again goes on from there.
    """
    plan = sorted((c for c in survey_bundles(paths) if c.status == INSTALL), key=lambda c: c.step)
    report = CatchUpReport(installed=[])
    for position, candidate in enumerate(plan):
        try:
            report.installed.append(
                import_bundle(candidate.path, progress(candidate) if progress else None, by)
            )
        except BundleError as error:
            report.failed, report.error = candidate, error
            report.waiting = len(plan) - position - 1
            break
    return report


def channel_modules(country: str, channel: str = "main") -> list[Module]:
    """Return the modules a channel's bundles installed: what removing the channel deletes."""
    return list(
        db.session.scalars(
            select(Module).filter_by(country_code=country, channel=channel).order_by(Module.uid)
        )
    )


def remove_channel(country: str, channel: str = "main", by: User | None = None) -> int:
    """Remove every module a channel's bundles installed, and its history; return the count.

    The installation log keeps a line saying who removed it (``by``; None: a command).
    """
    with import_lock():
        uids = db.session.scalars(
            select(Module.uid).filter_by(country_code=country, channel=channel)
        ).all()
        for uid in uids:
            _remove_recorded(uid, by, f"channel {channel} of {country} removed from this server")
        last = db.session.scalar(
            select(func.max(InstalledBundle.version)).filter_by(
                country_code=country, channel=channel
            )
        )
        if last is not None:
            db.session.add(
                BundleInstallation(
                    action="remove",
                    country_code=country,
                    channel=channel,
                    version=last,
                    modules_removed=len(uids),
                    by_id=by.id if by is not None else None,
                )
            )
        db.session.execute(
            db.delete(InstalledBundle).filter_by(country_code=country, channel=channel)
        )
        db.session.commit()  # under the lock, as an import's: the next import must see it
    sync_index()
    return len(uids)


def _remove_recorded(uid: str, by: User | None, reference: str) -> None:
    """Remove an installed module, its history saying that a bundle removed it and who did."""
    module = db.session.scalar(select(Module).filter_by(uid=uid))
    if module is not None:
        record_removal(module, "bundle", by, reference)
        remove_module(uid)


def installed_bundles() -> list[InstalledBundle]:
    return list(
        db.session.scalars(select(InstalledBundle).order_by(InstalledBundle.installed_at.desc()))
    )


def installation_log(limit: int = 100) -> list[tuple[BundleInstallation, list[ChangelogEntry]]]:
    """Return the newest installs and removals of bundles here, each with its changelog."""
    rows = db.session.scalars(
        select(BundleInstallation)
        .options(selectinload(BundleInstallation.by))
        .order_by(BundleInstallation.at.desc(), BundleInstallation.id.desc())
        .limit(limit)
    )
    return [(row, [changelog_from_data(data) for data in row.changelog]) for row in rows]


def changelog_from_data(data: dict) -> ChangelogEntry:
    """Return the changelog entry ``ChangelogEntry.to_data`` wrote (as the log keeps it)."""
    return ChangelogEntry(
        version=data["version"],
        note=data.get("note", ""),
        modules=tuple(
            ChangedModule(item["id"], item["change"], item.get("title", {}))
            for item in data.get("modules", [])
        ),
        curriculum_changed=data.get("curriculum_changed", False),
        decisions=data.get("decisions", 0),
    )


def built_bundles(country: str | None = None) -> list[BuiltBundle]:
    query = select(BuiltBundle).order_by(BuiltBundle.built_at.desc())
    if country:
        query = query.filter_by(country_code=country)
    return list(db.session.scalars(query))


def file_rows(parts: list[Path]) -> list[BuiltBundleFile]:
    """Return the rows naming each file of a bundle just built, with its size and SHA-256."""
    return [
        BuiltBundleFile(name=path.name, size=path.stat().st_size, sha256=file_sha256(path))
        for path in parts
    ]


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
