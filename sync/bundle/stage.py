"""Stage a bundle for import: check everything, copy its blobs into the store, return plain data.

The app applies the result in one database transaction; this module never touches the
database. Every refusal happens before a single byte reaches the store's real names:

1. entry names, then the signature over the exact manifest bytes, then the manifest;
2. the signer's right to sign for the country, rollback, the delta's base, the listing of
   entries against the manifest (sizes, compression ratios), blobs the delta expects to find
   on the server, and the free disk space;
3. blobs are copied into a staging folder inside the store (temporary name, flushed to disk in
   batches, renamed), hashed while copied; the modules are rebuilt and their fingerprints
   compared;
4. only then are staged blobs renamed to their real names in the store, and flushed.

When the caller gives ``while_copying``, step 3 copies the lesson texts first and hands the
checked modules to ``while_copying`` while a second process copies the media
(``sync.bundle.copier``): the app renders the lessons meanwhile, and writes to its database
only once this returns with every blob in the store.

A refusal at step 3 deletes the staging folder. An interruption (stick pulled out, power cut,
the process killed) leaves it, so the next attempt with the same bundle reuses what was copied;
a staging folder only ever holds complete, flushed, hash-checked files under hash names (and
``.tmp-*`` files that are never used). Blobs already in the store (or staged) are never copied
again, but they are read from the bundle and hashed: a bundle with any damaged file is refused,
whatever this server holds (docs/bundle-format.md, "What a reader must refuse").
Imports into one store must run one at a time; the app serialises them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sync.bundle.copier import BackgroundCopy, CopyJob, can_copy_in_background
from sync.bundle.manifest import Manifest, SubmissionStatus, parse_manifest
from sync.bundle.reader import authenticate, check_signer
from sync.container.archive import SignedArchive
from sync.container.keys import TrustStore
from sync.container.staging import (
    RESERVE_BYTES,
    blobs_to_stage,
    publish,
    remove_staging,
    stage_blobs,
    staging_dir,
    unpublish,
)
from sync.container.writer import Progress
from sync.errors import (
    BaseNotInstalled,
    BundleError,
    CorruptBlob,
    ManifestError,
    MissingBaseBlob,
    RevokedBase,
    Rollback,
)
from sync.model import Curriculum, Module
from sync.storage import BlobStore


def _not_copying() -> bool:
    return False


@dataclass
class InstalledState:
    """What this server has installed, filled by the app from its database.

    ``versions`` counts only bundles signed by keys the trust file does not revoke: a stolen
    key's inflated version must not block the real publisher. ``revoked`` names the channels
    whose installed content came from a revoked key (with that key's id): that content keeps
    serving until a full bundle replaces it, and no update may apply to it.
    """

    versions: dict[tuple[str, str], int] = field(default_factory=dict)  # (country, channel)
    revoked: dict[tuple[str, str], str] = field(default_factory=dict)

    def version(self, country: str, channel: str = "main") -> int | None:
        return self.versions.get((country, channel))

    def revoked_key(self, country: str, channel: str = "main") -> str | None:
        """Return the revoked key that signed this channel's installed content, if one did."""
        return self.revoked.get((country, channel))


@dataclass
class StagedBundle:
    """A checked bundle whose blobs are all in the store, ready to be applied in one transaction."""

    manifest: Manifest
    curriculum: Curriculum
    modules: list[Module]  # Blob.path points into the store; Markdown read back from it
    tombstones: list[str]
    noop: bool = False  # this very version is already installed: nothing to apply
    copied: int = 0  # blobs read from the bundle in this run
    reused: int = 0  # blobs found in the store, or staged by an interrupted run
    bytes_copied: int = 0
    manifest_sha256: str = ""  # of the exact signed bytes: tells two bundles of one version apart
    published: list[str] = field(default_factory=list)  # blobs this run put under real names
    replaces_revoked: bool = False  # the installed content came from a key revoked since
    # Blobs still being copied while ``while_copying`` runs: in the store once stage_bundle returns.
    arriving: frozenset[str] = frozenset()

    @property
    def country(self) -> str:
        return self.manifest.country

    @property
    def channel(self) -> str:
        return self.manifest.channel

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def submission_statuses(self) -> list[SubmissionStatus]:
        """Return the reviewers' statuses of teacher submissions (empty for older bundles)."""
        return self.manifest.submission_statuses

    def removals(self, installed_ids: Iterable[str]) -> list[str]:
        """Return the modules to delete, given the ids this country/channel has installed.

        A full bundle replaces the whole channel, so anything not in its index goes; a delta
        removes its tombstones (and, for safety, anything else its index no longer lists).
        """
        return sorted((set(installed_ids) - set(self.manifest.index)) | set(self.tombstones))


# Called with the checked bundle and a function telling whether its media are still being copied.
WhileCopying = Callable[[StagedBundle, Callable[[], bool]], None]


def stage_bundle(
    path: Path | str,
    trust: TrustStore,
    store: BlobStore,
    installed: InstalledState,
    *,
    progress: Progress | None = None,
    reserve: int = RESERVE_BYTES,
    while_copying: WhileCopying | None = None,
) -> StagedBundle:
    """Check the bundle at ``path`` and put its blobs in ``store``; raise a ``BundleError`` to refuse.

    ``while_copying``, when given, is called with the checked bundle while the media are still
    being copied (those in ``arriving``, not yet at their paths: only the lesson texts may be
    read), and a function telling whether they still are; if it raises, the copy stops and
    nothing is published. It is not called for a no-op (this very version installed already).
    """
    if not isinstance(trust, TrustStore):
        raise TypeError("stage_bundle needs the server's TrustStore; there is no unchecked import")
    with SignedArchive(path) as archive:
        if archive.entry_problems:
            raise archive.entry_problems[0]
        manifest_bytes, signature, trusted = authenticate(archive, trust)
        manifest = parse_manifest(manifest_bytes)
        check_signer(manifest, signature, trusted)

        have = installed.version(manifest.country, manifest.channel)
        revoked = installed.revoked_key(manifest.country, manifest.channel)
        if have is not None and manifest.version < have:
            raise Rollback(manifest.country, manifest.channel, manifest.version, have)
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        if have == manifest.version and revoked is None:
            return StagedBundle(
                manifest, manifest.curriculum, [], [], noop=True, manifest_sha256=digest
            )
        if manifest.is_delta and revoked is not None:
            raise RevokedBase(manifest.country, manifest.channel, revoked)
        if manifest.is_delta and have != manifest.base_version:
            raise BaseNotInstalled(
                manifest.country, manifest.channel, manifest.base_version or 0, have
            )
        listing = archive.listing_problems(manifest.files)
        if listing:
            raise listing[0]
        _check_base_blobs(manifest, store)

        staging = _staging_dir(store, manifest, digest)
        to_copy, staged = blobs_to_stage(manifest.files, store, staging, reserve)
        # Blobs this server holds already are not copied, but they are read and hashed all the
        # same: a bundle with a damaged file is refused here as ``verify`` calls it bad, so one
        # rule decides, and a stick that installs here is good for the next school too.
        for sha in sorted((set(manifest.files) - set(to_copy)) | staged):
            entry = manifest.files[sha]
            archive.check_blob(sha, entry.size, entry.name)

        result = StagedBundle(
            manifest,
            manifest.curriculum,
            [],
            list(manifest.tombstones),
            manifest_sha256=digest,
            replaces_revoked=revoked is not None,
        )
        try:
            if while_copying is None:
                copied = stage_blobs(archive, manifest.files, to_copy, staged, staging, progress)
                result.modules = _rebuild_modules(manifest, store, staging)
            else:
                copied = _stage_while(
                    archive,
                    manifest,
                    store,
                    staging,
                    to_copy,
                    staged,
                    progress,
                    while_copying,
                    result,
                )
            result.copied = len(copied)
            result.reused = len(manifest.files) - len(copied)
            result.bytes_copied = sum(manifest.files[sha].size for sha in copied)
        except BundleError as error:
            if not error.resumable:
                remove_staging(staging)
            raise
        result.published = publish(to_copy, staging, store)
    return result


def withdraw(staged: StagedBundle, store: BlobStore, keep: set[str]) -> int:
    """Move the blobs an import published back to its staging folder, but those in ``keep``.

    For an import whose database transaction failed (a full disk): its blobs are then not
    lying unused in the store, and the next attempt with the same bundle reuses them.
    Return how many were moved.
    """
    staging = _staging_dir(store, staged.manifest, staged.manifest_sha256)
    return unpublish([sha for sha in staged.published if sha not in keep], staging, store)


def _stage_while(
    archive: SignedArchive,
    manifest: Manifest,
    store: BlobStore,
    staging: Path,
    to_copy: list[str],
    staged: set[str],
    progress: Progress | None,
    while_copying: WhileCopying,
    result: StagedBundle,
) -> list[str]:
    """Copy the lesson texts, run ``while_copying`` as the media are copied; return those copied."""
    texts = {
        text.markdown
        for module in manifest.modules
        for lesson in module.lessons
        for text in lesson.texts.values()
    }
    now = [sha for sha in to_copy if sha in texts]
    later = [sha for sha in to_copy if sha not in texts]
    total = sum(manifest.files[sha].size for sha in to_copy)
    done_first = sum(manifest.files[sha].size for sha in now)

    def first_progress(done: int, _: int) -> None:
        if progress is not None:
            progress(done, total)

    def later_progress(done: int, _: int) -> None:
        if progress is not None:
            progress(done_first + done, total)

    copied = stage_blobs(archive, manifest.files, now, staged, staging, first_progress)
    result.modules = _rebuild_modules(manifest, store, staging)
    result.arriving = frozenset(later)
    if not later:
        while_copying(result, _not_copying)
        return copied
    if not can_copy_in_background():
        copied += stage_blobs(archive, manifest.files, later, staged, staging, later_progress)
        while_copying(result, _not_copying)
        return copied
    job = CopyJob(
        bundle=archive.path,
        files={sha: manifest.files[sha] for sha in later},
        to_copy=later,
        staged=staged & set(later),
        staging=staging,
    )
    copy = BackgroundCopy(job, later_progress)
    try:
        while_copying(result, copy.running)
        copied += copy.wait()
    except BaseException:
        copy.stop()
        raise
    return copied


def _check_base_blobs(manifest: Manifest, store: BlobStore) -> None:
    """Make sure every blob a delta does not ship is on this server, with the right size."""
    sizes = {sha: f.size for m in manifest.modules for sha, f in m.blobs.items()}
    sizes |= {
        v.sha256: v.size for m in manifest.modules for f in m.blobs.values() for v in f.variants
    }
    names = {sha: f.name for m in manifest.modules for sha, f in m.blobs.items()}
    for sha in sorted(manifest.referenced_hashes() - set(manifest.files)):
        path = store.path(sha)
        if not path.is_file():
            raise MissingBaseBlob(sha, names.get(sha, ""))
        if sha in sizes and path.stat().st_size != sizes[sha]:
            raise MissingBaseBlob(sha, names.get(sha, ""))


def _staging_dir(store: BlobStore, manifest: Manifest, digest: str) -> Path:
    """Return this bundle's staging folder; drop those of other bundles of the same channel."""
    prefix = f"{manifest.country}-{manifest.channel}-"
    return staging_dir(store, prefix, f"{prefix}v{manifest.version}-{digest[:16]}")


def _rebuild_modules(manifest: Manifest, store: BlobStore, staging: Path) -> list[Module]:
    """Rebuild each shipped module from the manifest and the blobs, and check its fingerprint."""

    def markdown(sha: str) -> str:
        staged = staging / sha
        path = staged if staged.is_file() else store.path(sha)
        data = path.read_bytes()
        # Base-chain blobs come from the store and are hashed again: Markdown is small.
        if hashlib.sha256(data).hexdigest() != sha:
            raise CorruptBlob(sha, "", "the stored copy does not match its hash")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CorruptBlob(sha, "", "a lesson is not UTF-8 text") from error

    modules = []
    for entry in manifest.modules:
        module = entry.to_module(markdown, store.path)
        if module.fingerprint() != entry.fingerprint:
            raise ManifestError(f"module {entry.id}: its content does not match its fingerprint")
        modules.append(module)
    return modules
