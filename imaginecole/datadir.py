"""Every path, key file and lock of the data directory, in one place.

The data directory (``DATA_DIR``, by default ``instance/``) holds what a server keeps besides its
database: media blobs, the search index, keys, the trust file, staged uploads and the outbox.
Each server needs its own.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app

from sync.bundle import BundleError


class ImportBusy(BundleError):
    """Another import is running on this server."""

    def __init__(self) -> None:
        super().__init__(
            "Another bundle import is running on this server; wait for it to finish, then try again."
        )


def data_path(*parts: str) -> Path:
    """Return a path inside this server's data directory."""
    return Path(current_app.config["DATA_DIR"], *parts)


def signing_key_path() -> Path:
    """Return the private key that signs the bundles built here."""
    return Path(current_app.config["SIGNING_KEY"] or data_path("keys", "publisher.key"))


def school_key_path() -> Path:
    """Return the private key that signs this school server's submission packages."""
    return data_path("keys", "school.key")


def trust_file_path() -> Path:
    """Return the file of keys whose bundles this server accepts."""
    return Path(current_app.config["TRUST_FILE"] or data_path("trust.toml"))


def accepted_trust_path() -> Path:
    """Return the copy of the trust file this server last accepted, kept to notice an older one."""
    return data_path("trust-accepted.toml")


def page_cache_dir() -> Path:
    """Return the folder of cached pages; on several hosts, a folder they all share."""
    return Path(current_app.config["PAGE_CACHE_DIR"] or data_path("pages"))


def secret_key(data_dir: Path) -> str:
    """Return the instance's secret key, creating it on first start."""
    path = data_dir / "secret_key"
    if not path.exists():
        # Written with O_EXCL so two workers starting together agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


@contextmanager
def import_lock() -> Iterator[None]:
    """Hold this server's import lock; raise ImportBusy when another import holds it.

    Bundle imports and submission merges both take it.
    """
    with _file_lock("import.lock", wait=False):
        yield


@contextmanager
def schema_lock() -> Iterator[None]:
    """Hold this server's schema lock, waiting for another process that holds it.

    Workers starting together take turns: the first upgrades the database, the others then find
    it up to date.
    """
    with _file_lock("schema.lock", wait=True):
        yield


@contextmanager
def build_lock(country: str, channel: str) -> Iterator[None]:
    """Hold the lock on building a channel's bundles here, waiting for a build that holds it.

    Two builds at once would both take the next version and write the same file; the second
    waits, then numbers its bundle after the first.
    """
    with _file_lock(f"build-{country}-{channel}.lock", wait=True):
        yield


@contextmanager
def _file_lock(name: str, wait: bool) -> Iterator[None]:
    # An OS file lock is released by the kernel when its process dies, so a killed process never
    # leaves a stale lock behind.
    path = data_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusy() from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
