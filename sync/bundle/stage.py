"""Stage a bundle for import: check everything, copy its blobs into the store, return plain data.

The app applies the result in one database transaction; this module never touches the
database. Every refusal happens before a single byte reaches the store's real names:

1. entry names, then the signature over the exact manifest bytes, then the manifest;
2. the signer's right to sign for the country, rollback, the delta's base, the listing of
   entries against the manifest (sizes, compression ratios), blobs the delta expects to find
   on the server, and the free disk space;
3. blobs are copied into a staging folder inside the store (temporary name, fsync, rename),
   hashed while copied; the modules are rebuilt and their fingerprints compared;
4. only then are staged blobs renamed to their real names in the store.

A refusal at step 3 deletes the staging folder. An interruption (stick pulled out, power cut,
the process killed) leaves it, so the next attempt with the same bundle reuses what was copied;
a staging folder only ever holds complete, fsynced, hash-checked files under hash names (and
``.tmp-*`` files that are never used). Blobs already in the store are never copied again.
Imports into one store must run one at a time; the app serialises them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sync.bundle.errors import (
    BaseNotInstalled,
    BundleError,
    CorruptBlob,
    InsufficientSpace,
    ManifestError,
    MissingBaseBlob,
    Rollback,
    StoreWriteError,
)
from sync.bundle.keys import TrustStore
from sync.bundle.manifest import Manifest, SubmissionStatus, parse_manifest
from sync.bundle.reader import BundleArchive, check_signer
from sync.content import Curriculum, Module
from sync.storage import BlobStore

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) after each blob."""

STAGING_DIR = ".staging"
RESERVE_BYTES = 64 * 1024 * 1024  # left free after the import, for the database and logs
CHUNK = 1 << 20


@dataclass
class InstalledState:
    """What this server has installed, filled by the app from its database."""

    versions: dict[tuple[str, str], int] = field(default_factory=dict)  # (country, channel)

    def version(self, country: str, channel: str = "main") -> int | None:
        return self.versions.get((country, channel))


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


def stage_bundle(
    path: Path | str,
    trust: TrustStore,
    store: BlobStore,
    installed: InstalledState,
    *,
    progress: Progress | None = None,
    reserve: int = RESERVE_BYTES,
) -> StagedBundle:
    """Check the bundle at ``path`` and put its blobs in ``store``; raise a ``BundleError`` to refuse."""
    if not isinstance(trust, TrustStore):
        raise TypeError("stage_bundle needs the server's TrustStore; there is no unchecked import")
    with BundleArchive(path) as archive:
        if archive.entry_problems:
            raise archive.entry_problems[0]
        manifest_bytes, signature, trusted = archive.authenticate(trust)
        manifest = parse_manifest(manifest_bytes)
        check_signer(manifest, signature, trusted)

        have = installed.version(manifest.country, manifest.channel)
        if have is not None and manifest.version < have:
            raise Rollback(manifest.country, manifest.channel, manifest.version, have)
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        if have == manifest.version:
            return StagedBundle(
                manifest, manifest.curriculum, [], [], noop=True, manifest_sha256=digest
            )
        if manifest.is_delta and have != manifest.base_version:
            raise BaseNotInstalled(
                manifest.country, manifest.channel, manifest.base_version or 0, have
            )
        listing = archive.listing_problems(manifest)
        if listing:
            raise listing[0]
        _check_base_blobs(manifest, store)

        staging = _staging_dir(store, manifest, manifest_bytes)
        to_copy = sorted(sha for sha in manifest.files if not store.has(sha))
        staged = {sha for sha in to_copy if (staging / sha).is_file()}
        needed = sum(manifest.files[sha].size for sha in to_copy if sha not in staged)
        _check_space(store.root, needed + reserve)

        result = StagedBundle(
            manifest, manifest.curriculum, [], list(manifest.tombstones), manifest_sha256=digest
        )
        result.reused = len(manifest.files) - len(to_copy)
        try:
            _copy_blobs(archive, manifest, to_copy, staged, staging, result, progress)
            result.modules = _rebuild_modules(manifest, store, staging)
        except BundleError as error:
            if not error.resumable:
                _remove_staging(staging)
            raise
        _publish(to_copy, staging, store)
    return result


def _check_base_blobs(manifest: Manifest, store: BlobStore) -> None:
    """Make sure every blob a delta does not ship is on this server, with the right size."""
    sizes = {sha: f.size for m in manifest.modules for sha, f in m.blobs.items()}
    names = {sha: f.name for m in manifest.modules for sha, f in m.blobs.items()}
    for sha in sorted(manifest.referenced_hashes() - set(manifest.files)):
        path = store.path(sha)
        if not path.is_file():
            raise MissingBaseBlob(sha, names.get(sha, ""))
        if sha in sizes and path.stat().st_size != sizes[sha]:
            raise MissingBaseBlob(sha, names.get(sha, ""))


def _staging_dir(store: BlobStore, manifest: Manifest, manifest_bytes: bytes) -> Path:
    """Return this bundle's staging folder; drop those of other bundles of the same channel."""
    root = store.root / STAGING_DIR
    prefix = f"{manifest.country}-{manifest.channel}-"
    name = f"{prefix}v{manifest.version}-{hashlib.sha256(manifest_bytes).hexdigest()[:16]}"
    if root.is_dir():
        for other in root.iterdir():
            # An interrupted import of another version of this channel is superseded by this
            # one; keeping its files would only eat the disk.
            if other.name.startswith(prefix) and other.name != name:
                shutil.rmtree(other, ignore_errors=True)
    return root / name


def _remove_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only when empty: other channels may be staging too
    except OSError:
        pass


def _check_space(root: Path, needed: int) -> None:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise InsufficientSpace(str(root), needed, free)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_blobs(
    archive: BundleArchive,
    manifest: Manifest,
    to_copy: list[str],
    staged: set[str],
    staging: Path,
    result: StagedBundle,
    progress: Progress | None,
) -> None:
    total = sum(manifest.files[sha].size for sha in to_copy)
    done = 0
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreWriteError(str(staging), error.strerror or str(error)) from error
    for sha in to_copy:
        entry = manifest.files[sha]
        target = staging / sha
        if sha in staged:
            # Staged by an interrupted run: checked again, since it sat on disk meanwhile.
            if _hash_file(target) == (sha, entry.size):
                result.reused += 1
                done += entry.size
                if progress is not None:
                    progress(done, total)
                continue
            target.unlink()
        fd, temp_name = tempfile.mkstemp(dir=staging, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                # iter_blob raises at the end unless size and SHA-256 are exactly right; the
                # temporary file is then deleted below and never gets the blob's name.
                for chunk in archive.iter_blob(sha, entry.size, entry.name):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except OSError as error:
            Path(temp_name).unlink(missing_ok=True)
            raise StoreWriteError(str(staging), error.strerror or str(error)) from error
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        result.copied += 1
        result.bytes_copied += entry.size
        done += entry.size
        if progress is not None:
            progress(done, total)
    _fsync_dir(staging)


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


def _publish(to_copy: list[str], staging: Path, store: BlobStore) -> None:
    """Rename every staged blob to its real name in the store, then drop the staging folder."""
    try:
        for sha in to_copy:
            source = staging / sha
            if store.has(sha):
                source.unlink(missing_ok=True)
                continue
            target = store.path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            _fsync_dir(target.parent)
    except OSError as error:
        raise StoreWriteError(str(store.root), error.strerror or str(error)) from error
    _remove_staging(staging)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory itself is flushed (POSIX only).
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
