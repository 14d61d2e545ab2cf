"""A content-addressed blob store: each file is kept once, named by its SHA-256.

Files are written to a temporary name, flushed to disk and renamed, so a power cut never
leaves a half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

CHUNK = 1 << 20
SHA256_HEX = re.compile("[0-9a-f]{64}")


class BlobHashMismatch(ValueError):
    """The bytes read did not have the hash they were announced with."""


class BlobStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root.joinpath(sha256[:2], sha256[2:4], sha256)

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_file(self, source: Path, sha256: str) -> bool:
        """Copy ``source`` into the store; return False when it was already there."""
        if self.has(sha256):
            return False
        with open(source, "rb") as stream:
            self._write(iter(lambda: stream.read(CHUNK), b""), sha256)
        return True

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its hash."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.has(sha256):
            self._write(iter([data]), sha256)
        return sha256

    def _write(self, chunks, sha256: str) -> None:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise BlobHashMismatch(f"expected {sha256}, read {digest.hexdigest()}")
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)


def flush_all_files() -> None:
    """Flush every written file, and every rename, to disk (POSIX only).

    Thousands of blobs written in a row are made durable with one call instead of two
    ``fsync`` per blob (the file and its folder), which cost most of an import's time.
    On Linux ``sync`` returns once the data is on disk.
    """
    if hasattr(os, "sync"):
        os.sync()


def flush_files(paths: list[str]) -> None:
    """Flush the files at ``paths`` to disk: with one ``sync`` where there is one, else each."""
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:  # Windows has no sync: each file's data is flushed on its own
        descriptor = os.open(path, os.O_RDWR)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def fsync_dir(path: Path) -> None:
    """Flush the directory at ``path`` to disk."""
    # The rename is durable only once the directory entry is flushed too (POSIX only).
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
