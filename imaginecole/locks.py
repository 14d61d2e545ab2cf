"""Locks that make processes take turns: row locks, and named locks every host of a server sees.

A national server runs several app hosts on one PostgreSQL database: its named locks are
PostgreSQL advisory locks, which every host sees and which the database releases when the
process holding one dies (its connection closes). A school server runs on SQLite on one
machine: its named locks are OS file locks in the data directory, which the kernel releases
when their process dies. Neither ever leaves a stale lock behind.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text

from imaginecole.extensions import db

try:
    import fcntl
except ImportError:  # Windows: no fcntl, byte-range locks instead
    fcntl = None
    import msvcrt

WINDOWS_RETRY_SECONDS = 0.1  # msvcrt cannot wait for a lock by itself


class LockHeld(Exception):
    """Another process holds the lock that was asked for without waiting."""


def lock_row(model: type[Any], key: object) -> None:
    """Hold a lock on one row of ``model`` until the transaction ends (PostgreSQL).

    Take it before reading a next number (a bundle's version…): a second process doing the same
    waits for the first to commit, then reads the number it stored. The lock lets other
    transactions insert rows that refer to the locked one (``FOR NO KEY UPDATE``). SQLite lets
    one transaction write at a time for the whole database and needs no row lock; taking its
    write lock early would block the writes a long operation makes on other connections
    (a build's progress).
    """
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.get(model, key, with_for_update={"key_share": True}, populate_existing=True)


@contextmanager
def named_lock(name: str, wait: bool, folder: Path) -> Iterator[None]:
    """Hold the lock called ``name`` for every process of this server.

    PostgreSQL: an advisory lock, seen by every host. Other databases: a file lock in ``folder``
    (``name.lock``), seen by the processes of this machine. ``wait=False`` raises LockHeld at once
    when another process holds it.
    """
    if db.engine.dialect.name == "postgresql":
        with advisory_lock(name, wait):
            yield
    else:
        with file_lock(folder / f"{name}.lock", wait):
            yield


def advisory_key(name: str) -> int:
    """Return the 64-bit advisory lock number of ``name`` (the same on every host)."""
    digest = hashlib.sha256(f"imaginecole:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(name: str, wait: bool) -> Iterator[None]:
    """Hold a PostgreSQL session advisory lock on a connection of its own."""
    key = {"key": advisory_key(name)}
    # A connection of its own: the lock belongs to the database session and outlives the
    # transactions the work commits on the request's or command's connection.
    with db.engine.connect() as connection:
        if wait:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        elif not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
            raise LockHeld()
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            connection.commit()


@contextmanager
def file_lock(path: Path, wait: bool) -> Iterator[None]:
    """Hold an OS lock on the file ``path``, created if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        _lock(handle, wait)
        try:
            yield
        finally:
            _unlock(handle)


def _lock(handle: IO[str], wait: bool) -> None:
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld() from None
        return
    while True:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            if not wait:
                raise LockHeld() from None
            time.sleep(WINDOWS_RETRY_SECONDS)


def _unlock(handle: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        return
    handle.seek(0)
    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
