"""Reading a container's blobs into a store: staged first, published once every check passed.

Each blob is copied into a staging folder inside the store (temporary names, flushed to disk in
batches, then renamed), hashed while copied; only once the reader's checks all passed are the
staged blobs renamed to their real names in the store, and flushed again.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sync.container.archive import SignedArchive
from sync.container.writer import Progress
from sync.errors import BundleError, DiskFull, InsufficientSpace, StoreWriteError
from sync.model import FileEntry
from sync.storage import BlobStore, flush_all_files, flush_files

STAGING_DIR = ".staging"
CHUNK = 1 << 20
# Staged blobs are flushed to disk in batches of this many bytes: a few flushes per import
# instead of two per blob, and an interruption loses one batch at most.
FLUSH_BYTES = 64 * 1024 * 1024
RESERVE_BYTES = 64 * 1024 * 1024  # left free after the import, for the database and logs


def staging_dir(store: BlobStore, prefix: str, name: str) -> Path:
    """Return the staging folder ``name``; drop the others whose name starts with ``prefix``."""
    root = store.root / STAGING_DIR
    if root.is_dir():
        for other in root.iterdir():
            # An interrupted read of an older container from the same source is superseded by
            # this one; keeping its files would only eat the disk.
            if other.name.startswith(prefix) and other.name != name:
                shutil.rmtree(other, ignore_errors=True)
    return root / name


def remove_staging(staging: Path) -> None:
    """Delete a staging folder, and the staging root once it is empty."""
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only when empty: other imports may be staging too
    except OSError:
        pass


def check_space(root: Path, needed: int) -> None:
    """Raise ``InsufficientSpace`` unless the disk holding ``root`` has ``needed`` bytes free."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise InsufficientSpace(str(root), needed, free)


def hash_file(path: Path) -> tuple[str, int]:
    """Return the SHA-256 and size of the file at ``path``."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def blobs_to_stage(
    files: dict[str, FileEntry], store: BlobStore, staging: Path, reserve: int
) -> tuple[list[str], set[str]]:
    """Return the blobs the store lacks and which of them are staged; refuse if space is short."""
    to_copy = sorted(sha for sha in files if not store.has(sha))
    staged = {sha for sha in to_copy if (staging / sha).is_file()}
    needed = sum(files[sha].size for sha in to_copy if sha not in staged)
    check_space(store.root, needed + reserve)
    return to_copy, staged


def stage_blobs(
    archive: SignedArchive,
    files: dict[str, FileEntry],
    to_copy: list[str],
    staged: set[str],
    staging: Path,
    progress: Progress | None,
) -> list[str]:
    """Copy the blobs of ``to_copy`` into ``staging``, hashed while copied; return those copied.

    Blobs are written under temporary names; every ``FLUSH_BYTES`` one flush makes the batch
    durable and only then do its blobs get their hash names. A staged name thus always holds
    a whole, checked blob, even after a power cut, and an interrupted import loses at most one
    batch of copying.
    """
    total = sum(files[sha].size for sha in to_copy)
    done = 0
    copied: list[str] = []
    batch: list[tuple[str, str]] = []  # (temporary name, sha256) written, not yet flushed
    batch_bytes = 0

    def name_batch() -> None:
        flush_files([temp_name for temp_name, _ in batch])
        for temp_name, sha in batch:
            os.replace(temp_name, staging / sha)
            copied.append(sha)
        batch.clear()

    try:
        staging.mkdir(parents=True, exist_ok=True)
        for sha in to_copy:
            entry = files[sha]
            target = staging / sha
            if sha in staged:
                # Staged by an interrupted run: checked again, since it sat on disk meanwhile.
                if hash_file(target) == (sha, entry.size):
                    done += entry.size
                    if progress is not None:
                        progress(done, total)
                    continue
                target.unlink()
            fd, temp_name = tempfile.mkstemp(dir=staging, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    # iter_blob raises at the end unless size and SHA-256 are exactly right;
                    # the temporary file is then deleted and never gets the blob's name.
                    for chunk in archive.iter_blob(sha, entry.size, entry.name):
                        out.write(chunk)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
            batch.append((temp_name, sha))
            batch_bytes += entry.size
            if batch_bytes >= FLUSH_BYTES:
                name_batch()
                batch_bytes = 0
            done += entry.size
            if progress is not None:
                progress(done, total)
        name_batch()
    except BaseException as error:
        _keep_whole_blobs(batch, name_batch)
        if isinstance(error, OSError):
            raise write_error(staging, error, total - done) from error
        raise
    return copied


def _keep_whole_blobs(batch: list[tuple[str, str]], name_batch: Callable[[], None]) -> None:
    """After a failure, keep the checked blobs of the last batch for the next attempt."""
    try:
        name_batch()
    except OSError:  # the disk is full or gone: the next attempt copies them again
        for temp_name, _ in batch:
            Path(temp_name).unlink(missing_ok=True)


def publish(to_copy: list[str], staging: Path, store: BlobStore) -> list[str]:
    """Rename every staged blob to its real name in the store, then drop the staging folder.

    Return the blobs renamed (those another import put in the store meanwhile are not).
    """
    published: list[str] = []
    try:
        for sha in to_copy:
            source = staging / sha
            if store.has(sha):
                source.unlink(missing_ok=True)
                continue
            target = store.path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            published.append(sha)
        # One flush for every rename: the database may name these blobs once this returns.
        flush_all_files()
    except OSError as error:
        # Renaming needs no space but a new folder does: a full disk can stop it half-way.
        # Put back what was renamed, so the store holds nothing this import did not finish.
        unpublish(published, staging, store)
        raise write_error(store.root, error, 0) from error
    remove_staging(staging)
    return published


def unpublish(shas: list[str], staging: Path, store: BlobStore) -> int:
    """Move published blobs back into ``staging`` (a rename: no space needed); return the count."""
    moved = 0
    for sha in shas:
        try:
            staging.mkdir(parents=True, exist_ok=True)
            os.replace(store.path(sha), staging / sha)
            moved += 1
        except OSError:
            continue  # left in the store, unused: ``imaginecole check`` finds it
    return moved


def is_disk_full(error: BaseException) -> bool:
    """Tell whether ``error`` means the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def free_space(root: Path) -> int:
    """Return the bytes free on the disk holding ``root`` (0 when it cannot be told)."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return 0


def write_error(root: Path, error: OSError, still_needed: int) -> BundleError:
    """Return the refusal for a failed write into the store: a full disk says how much is needed."""
    if is_disk_full(error):
        return DiskFull(str(root), still_needed + RESERVE_BYTES, free_space(root))
    return StoreWriteError(str(root), error.strerror or str(error))
