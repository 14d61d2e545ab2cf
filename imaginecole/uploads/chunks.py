"""Receive a large file in pieces, so that a dropped connection costs one piece, not the file.

A partial upload is three files in ``SHARED_DIR/uploads/incoming/``: ``<token>.part`` (the bytes
so far), ``<token>.json`` (who sends what: country, editor, file name, size, date) and, on
SQLite, ``<token>.lock``. A piece is appended only at the offset the file has reached, under a
lock, and flushed to disk before its new size is answered, so a client that lost an answer asks
the size and carries on from there. Files are shared by every worker and host of the server;
nothing is kept in memory. Partial uploads untouched for two days are deleted.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from imaginecole.datadir import shared_path
from imaginecole.locks import LockHeld, named_lock

MiB = 1024 * 1024
CHUNK_LIMIT = 8 * MiB  # the page sends 1 MiB; a little room for other clients
PARTIAL_LIFETIME = timedelta(days=2)
READ_BLOCK = 64 * 1024
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class ChunkRefused(Exception):
    """A piece or a request about a partial upload cannot be accepted.

    ``code``: ``offset`` (not where the file has reached), ``busy`` (another piece is being
    written), ``too_big`` (beyond the size announced or allowed), ``empty``, ``incomplete``.
    ``size`` is how many bytes the server holds, for the client to resume from.
    """

    def __init__(self, code: str, size: int = 0):
        super().__init__(code)
        self.code, self.size = code, size


@dataclass
class Partial:
    token: str
    country: str
    editor_id: int
    name: str
    size: int  # announced by the client
    last_modified: int  # as the browser reports it, to recognise the same file after a reload
    created: str
    upload_id: int | None = None  # the ContentUpload made from it, once finished

    @property
    def received(self) -> int:
        try:
            return _part_path(self.token).stat().st_size
        except FileNotFoundError:
            pass
        # Complete: being checked (renamed to .zip) or already an upload.
        if self.upload_id is not None or _done_path(self.token).exists():
            return self.size
        return 0


def incoming_dir() -> Path:
    path = shared_path("uploads", "incoming")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _part_path(token: str) -> Path:
    return incoming_dir() / f"{token}.part"


def _meta_path(token: str) -> Path:
    return incoming_dir() / f"{token}.json"


def _done_path(token: str) -> Path:
    return incoming_dir() / f"{token}.zip"


def _read_meta(token: str) -> Partial | None:
    try:
        return Partial(**json.loads(_meta_path(token).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _write_meta(partial: Partial) -> None:
    path = _meta_path(partial.token)
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(asdict(partial)), encoding="utf-8")
    os.replace(temp, path)


@contextmanager
def _locked(token: str, size_now: int = 0) -> Iterator[None]:
    # Two workers, or two hosts, must never write one file at once; the lock is dropped if the
    # worker dies (named_lock: a file lock in the folder on SQLite, PostgreSQL's otherwise).
    try:
        with named_lock(token, wait=False, folder=incoming_dir()):
            yield
    except LockHeld:
        raise ChunkRefused("busy", size_now) from None


# ---------------------------------------------------------------------------- the steps


def start_partial(
    country: str, editor_id: int, name: str, size: int, last_modified: int, max_bytes: int
) -> Partial:
    """Open a partial upload for a file of ``size`` bytes and return it (with its token)."""
    expire_partials()
    if size <= 0:
        raise ChunkRefused("empty")
    if size > max_bytes:
        raise ChunkRefused("too_big")
    partial = Partial(
        token=secrets.token_urlsafe(24),
        country=country,
        editor_id=editor_id,
        name=name[:200],
        size=size,
        last_modified=max(0, last_modified),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _part_path(partial.token).touch()
    _write_meta(partial)
    return partial


def find_partial(token: str, country: str, editor_id: int) -> Partial | None:
    """Return the partial upload ``token`` of this editor and country, or None."""
    if not TOKEN.match(token or ""):
        return None
    partial = _read_meta(token)
    if partial is None:
        return None
    # A token seen by someone else (a shared screen, a log) gives them nothing.
    if partial.country != country or partial.editor_id != editor_id:
        return None
    return partial


def append_chunk(partial: Partial, offset: int, stream: BinaryIO, limit: int = CHUNK_LIMIT) -> int:
    """Append the bytes of ``stream`` if ``offset`` is where the file has reached; return its size.

    A piece cut short by a dropped connection is kept as far as it came: its bytes are in
    order, so the next piece starts from there.
    """
    with _locked(partial.token, partial.received):
        fresh = _read_meta(partial.token) or partial
        if fresh.upload_id is not None or _done_path(partial.token).exists():
            raise ChunkRefused("offset", partial.size)
        fd = os.open(_part_path(partial.token), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            current = os.fstat(fd).st_size
            if offset != current:
                raise ChunkRefused("offset", current)
            os.lseek(fd, current, os.SEEK_SET)
            written = 0
            try:
                while block := stream.read(READ_BLOCK):
                    if (
                        written + len(block) > limit
                        or current + written + len(block) > partial.size
                    ):
                        # All or nothing for a piece that does not fit: the client sent
                        # something other than the file it announced.
                        os.ftruncate(fd, current)
                        raise ChunkRefused("too_big", current)
                    os.write(fd, block)
                    written += len(block)
            finally:
                os.fsync(fd)
            return current + written
        finally:
            os.close(fd)


def finish_partial(partial: Partial, receive: Callable[[Path], int]) -> int:
    """Hand the complete file to ``receive`` once; return the id of the upload it became.

    Under the partial's lock for the whole check, so a "finish" sent again meanwhile (the
    client lost the answer) is told to wait, then finds the upload already made.
    """
    with _locked(partial.token, partial.received):
        fresh = _read_meta(partial.token) or partial
        if fresh.upload_id is not None:
            return fresh.upload_id
        received = fresh.received
        if received != fresh.size:
            raise ChunkRefused("incomplete", received)
        done = _done_path(partial.token)
        # Renamed out of the way, so no late piece can change it while it is checked.
        if _part_path(partial.token).exists():
            os.replace(_part_path(partial.token), done)
        upload_id = receive(done)
        fresh.upload_id = upload_id
        _write_meta(fresh)
        partial.upload_id = upload_id
        return upload_id


def expire_partials(now: datetime | None = None) -> int:
    """Delete partial uploads untouched for two days; return how many."""
    now = now or datetime.now(UTC)
    folder = incoming_dir()
    latest: dict[str, float] = {}
    for path in folder.iterdir():
        token = path.name.split(".", 1)[0]
        try:
            latest[token] = max(latest.get(token, 0.0), path.stat().st_mtime)
        except FileNotFoundError:
            continue
    count = 0
    limit = (now - PARTIAL_LIFETIME).timestamp()
    for token, moment in latest.items():
        if moment >= limit:
            continue
        for path in folder.glob(f"{token}.*"):
            path.unlink(missing_ok=True)
        count += 1
    return count
