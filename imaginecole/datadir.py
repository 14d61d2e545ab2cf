"""Every path, key file and lock of the data directory and the shared folder, in one place.

The data directory (``DATA_DIR``, by default ``instance/``) is this host's own: the SQLite
database of a school server, the Whoosh search index, file locks. The shared folder
(``SHARED_DIR``, by default the data directory itself) holds what every host of a server must
see: media blobs, published bundles, uploads and their pieces, the outbox, keys, the trust file
and the session secret. A school server has one folder; a national server with several app
hosts mounts one shared folder on each (docs/deploy.md).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app

from imaginecole.locks import LockHeld, file_lock, named_lock
from sync.bundle import BundleError


class ImportBusy(BundleError):
    """Another import is running on this server."""

    def __init__(self) -> None:
        super().__init__(
            "Another bundle import is running on this server; wait for it to finish, then try again."
        )


def data_path(*parts: str) -> Path:
    """Return a path inside this host's data directory."""
    return Path(current_app.config["DATA_DIR"], *parts)


def shared_path(*parts: str) -> Path:
    """Return a path inside the folder every host of this server shares."""
    return Path(current_app.config["SHARED_DIR"], *parts)


def shared_dir(data_dir: Path, setting: str) -> Path:
    """Return the shared folder a ``SHARED_DIR`` setting names: the data directory when empty."""
    return Path(setting).resolve() if setting else data_dir


def signing_key_path() -> Path:
    """Return the private key that signs the bundles built here."""
    return Path(current_app.config["SIGNING_KEY"] or shared_path("keys", "publisher.key"))


def school_key_path() -> Path:
    """Return the private key that signs this school server's submission packages."""
    return shared_path("keys", "school.key")


def trust_file_path() -> Path:
    """Return the file of keys whose bundles this server accepts."""
    return Path(current_app.config["TRUST_FILE"] or shared_path("trust.toml"))


def accepted_trust_path() -> Path:
    """Return the copy of the trust file this server last accepted, kept to notice an older one."""
    return shared_path("trust-accepted.toml")


def page_cache_dir() -> Path:
    """Return the folder of cached pages.

    Each host may keep its own: a page is stored under the content generation it was rendered
    from, so no host serves one older than the last commit.
    """
    return Path(current_app.config["PAGE_CACHE_DIR"] or data_path("pages"))


def secret_key(folder: Path) -> str:
    """Return the server's session secret kept in ``folder``, creating it on first start.

    Every host must sign sessions with the same secret, or a person signed in through one host
    is a stranger to the next: it lives in the shared folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
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

    Bundle imports and submission merges both take it. On PostgreSQL every host sees it.
    """
    try:
        with named_lock("import", wait=False, folder=data_path()):
            yield
    except LockHeld:
        raise ImportBusy() from None


@contextmanager
def schema_lock() -> Iterator[None]:
    """Hold this machine's schema lock (SQLite), waiting for another process that holds it.

    Workers starting together take turns: the first upgrades the database, the others then find
    it up to date. PostgreSQL has its own lock (``schema.upgrade_lock``).
    """
    with file_lock(data_path("schema.lock"), wait=True):
        yield


@contextmanager
def build_lock(country: str, channel: str) -> Iterator[None]:
    """Hold the lock on building a channel's bundles, waiting for a build that holds it.

    Two builds at once would both take the next version and write the same file; the second
    waits, then numbers its bundle after the first. On PostgreSQL every host sees it.
    """
    with named_lock(f"build-{country}-{channel}", wait=True, folder=data_path()):
        yield
