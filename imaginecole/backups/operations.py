"""Back up a server into one archive file, and restore it on another machine.

The archive is a plain tar file (media are already compressed; a school's small CPU has better
things to do than gzip them) holding:

- ``database/sqlite3`` (SQLite's online backup) or ``database/postgresql.dump`` (``pg_dump
  --format=custom``): a consistent snapshot, taken while the server keeps serving and writing;
- ``blobs/…`` (the media store, by hash), ``keys/publisher.key``, ``keys/school.key`` and
  ``trust.toml`` when this server has them;
- ``settings.json``: this server's settings, without the secret key and the database password;
- ``manifest.json``, last: format, app version, database kind, schema revision, creation time and
  every other member's SHA-256 and size.

The secret key that signs sessions is left out: it is a secret that only protects sessions, and a
restored server that makes a new one only asks people to sign in again. The search index is left
out too: it is rebuilt from the database after a restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, inspect, literal, select, text
from sqlalchemy.engine import URL

from imaginecole.accounts.models import User
from imaginecole.config import SETTINGS
from imaginecole.content.models import Module
from imaginecole.datadir import (
    accepted_trust_path,
    school_key_path,
    signing_key_path,
    trust_file_path,
)
from imaginecole.extensions import db
from imaginecole.schema import ensure_schema
from imaginecole.search.indexing import sync_index

FORMAT = 1  # raise it when an older restore could no longer read what backup writes
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/sqlite3"
POSTGRESQL_MEMBER = "database/postgresql.dump"
SETTINGS_MEMBER = "settings.json"
BLOBS = "blobs"
CHUNK = 1 << 20
# Settings that say where this machine keeps things, or are secrets: never carried over.
NOT_CARRIED = {
    "SECRET_KEY",
    "DATA_DIR",
    "SHARED_DIR",
    "DATABASE_URL",
    "SIGNING_KEY",
    "TRUST_FILE",
}


class BackupError(ValueError):
    """A backup or a restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupReport:
    path: Path
    database: str
    files: int
    size: int


@dataclass
class RestoreReport:
    database: str
    created: str
    app_version: str
    blobs: int
    accounts: int = 0
    modules: int = 0
    restored: list[str] = field(default_factory=list)  # keys and trust file, by archive name
    settings: dict[str, object] = field(default_factory=dict)  # those that differ from here


# ---------------------------------------------------------------------------- backup


def backup(path: Path) -> BackupReport:
    """Write this server's database, media, keys, trust file and settings into ``path``."""
    if path.exists():
        raise BackupError(f"{path} already exists; give the name of a new file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = database_kind()
    # The archive holds private keys: only its owner may read it, from the first byte on.
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            manifest = _write_archive(out, kind, path.parent)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return BackupReport(path, kind, len(manifest["files"]), path.stat().st_size)


def _write_archive(out: BinaryIO, kind: str, folder: Path) -> dict:
    """Write every member, then the manifest, into ``out``; return the manifest.

    The database snapshot is made in ``folder`` first (the archive's folder, which has room).
    """
    with tarfile.open(fileobj=out, mode="w") as archive:
        files: dict[str, dict] = {}
        with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as scratch:
            snapshot = Path(scratch, "database")
            member = _snapshot_database(kind, snapshot)
            files[member] = _add_file(archive, member, snapshot)
        for member, source in _data_files():
            files[member] = _add_file(archive, member, source)
        files[SETTINGS_MEMBER] = _add_bytes(archive, SETTINGS_MEMBER, _json(_settings()))
        manifest = {
            "format": FORMAT,
            "app_version": app_version(),
            "database": kind,
            "schema_revision": schema_revision(),
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": files,
        }
        _add_bytes(archive, MANIFEST, _json(manifest))
    return manifest


def database_kind() -> str:
    name = db.engine.url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL databases, not {name}.")
    return name


def app_version() -> str:
    try:
        return metadata.version("imaginecole")
    except metadata.PackageNotFoundError:
        return "unknown"


def schema_revision() -> str | None:
    """Return the Alembic revision of the database, or None when it has none."""
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    with db.engine.connect() as connection:
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _snapshot_database(kind: str, target: Path) -> str:
    """Write a consistent copy of the database to ``target``; return its archive name."""
    if kind == "sqlite":
        with db.engine.connect() as connection, sqlite3.connect(target) as copy:
            # One step (pages=-1) copies a single snapshot; WAL lets pages keep writing meanwhile.
            connection.connection.dbapi_connection.backup(copy)
        copy.close()
        return SQLITE_MEMBER
    _run_postgresql("pg_dump", "--format=custom", f"--file={target}")
    return POSTGRESQL_MEMBER


def _data_files() -> Iterator[tuple[str, Path]]:
    """Yield (archive name, path) of every file of the data directory that a backup keeps."""
    for member, path in _key_files().items():
        if path.is_file():
            yield member, path
    blob_dir = Path(current_app.config["BLOB_DIR"])
    for path in sorted(blob_dir.glob("??/??/*")):
        if path.is_file() and not path.name.startswith("."):  # .tmp-… is a blob being written
            yield f"{BLOBS}/{path.relative_to(blob_dir).as_posix()}", path


def _key_files() -> dict[str, Path]:
    return {
        "keys/publisher.key": signing_key_path(),
        "keys/school.key": school_key_path(),
        "trust.toml": trust_file_path(),
        # The trust file this server last accepted: restored with it, an older trust file put
        # back later is still refused.
        "trust-accepted.toml": accepted_trust_path(),
    }


def _settings() -> dict[str, object]:
    config = current_app.config
    return {s.name: _plain(config.get(s.name)) for s in SETTINGS if s.name not in NOT_CARRIED}


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _json(data: dict) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True).encode()


def _add_file(archive: tarfile.TarFile, name: str, source: Path) -> dict:
    with source.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        reader = _HashingReader(stream)
        archive.addfile(_member(name, size), reader)
    return {"sha256": reader.digest.hexdigest(), "size": size}


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> dict:
    with tempfile.SpooledTemporaryFile() as stream:
        stream.write(data)
        stream.seek(0)
        archive.addfile(_member(name, len(data)), stream)
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    return info


class _HashingReader:
    """A file read by tarfile, hashed on the way (each file is read once)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


# ---------------------------------------------------------------------------- restore


def restore(path: Path, force: bool = False) -> RestoreReport:
    """Bring back a server from a backup archive, into this (empty, unless ``force``) server.

    Every file is checked against the manifest before anything is replaced; the database is
    restored in one transaction, then the keys and trust file are renamed into place.
    """
    try:
        archive = tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{path} is not a backup archive ({error}).") from error
    with (
        archive,
        tempfile.TemporaryDirectory(
            dir=current_app.config["SHARED_DIR"], prefix=".restore-"
        ) as scratch,
    ):
        manifest = _read_manifest(archive, path)
        kind = database_kind()
        if manifest["database"] != kind:
            raise BackupError(
                f"{path} holds a {manifest['database']} database and this server uses {kind}; "
                "restore it on a server that uses the same kind of database."
            )
        if not force and not is_empty():
            raise BackupError(
                "This server already has data (accounts, modules, media or keys); restore "
                "replaces it. Restore into a new data directory and database, or add --force."
            )
        staged = _extract_checked(archive, manifest, Path(scratch), path)
        report = RestoreReport(
            manifest["database"], manifest["created"], manifest["app_version"], 0
        )
        report.settings = _differing_settings(staged.get(SETTINGS_MEMBER))
        # Media first: stored by hash, they change nothing a reader sees until the database
        # names them, so a failure after this point leaves the old state serving.
        report.blobs = _restore_blobs(staged)
        key_files = _stage_key_files(staged)
        try:
            _restore_database(kind, staged)
        except BaseException:
            for temporary, _target in key_files:
                temporary.unlink(missing_ok=True)
            raise
        for temporary, target in key_files:
            os.replace(temporary, target)
        report.restored = sorted(name for name in _key_files() if name in staged)
    ensure_schema(current_app)
    sync_index()
    report.accounts = db.session.scalar(select(func.count()).select_from(User))
    report.modules = db.session.scalar(select(func.count()).select_from(Module))
    return report


def is_empty() -> bool:
    """Tell whether this server has no rows, no media and no keys yet."""
    if any(path.is_file() for path in _key_files().values()):
        return False
    if any(Path(current_app.config["BLOB_DIR"]).glob("??/??/*")):
        return False
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        # The content generation's single row exists from the first migration on.
        if table.name == "content_state" or not inspector.has_table(table.name):
            continue
        if db.session.execute(select(literal(1)).select_from(table).limit(1)).first():
            return False
    return True


def _read_manifest(archive: tarfile.TarFile, path: Path) -> dict:
    try:
        manifest = json.loads(archive.extractfile(MANIFEST).read())
    except (KeyError, AttributeError, ValueError, RecursionError, tarfile.TarError) as error:
        raise BackupError(
            f"{path} is not a backup archive: it has no readable manifest."
        ) from error
    version = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(version, int) or version > FORMAT or version < 1:
        raise BackupError(
            f"{path} is a backup of format {version!r}, made by Imaginecole "
            f"{manifest.get('app_version', '?') if isinstance(manifest, dict) else '?'}; "
            f"this version reads format {FORMAT} only. Restore it with that version or newer."
        )
    return manifest


def _extract_checked(
    archive: tarfile.TarFile, manifest: dict, scratch: Path, path: Path
) -> dict[str, Path]:
    """Copy every file the manifest lists into ``scratch``, checking it; return them by name."""
    files = manifest["files"]
    members = {member.name: member for member in archive.getmembers()}
    unexpected = set(members) - set(files) - {MANIFEST}
    if unexpected:
        raise BackupError(
            f"{path} holds files its manifest does not list: {sorted(unexpected)[:3]}"
        )
    staged: dict[str, Path] = {}
    for number, (name, expected) in enumerate(sorted(files.items())):
        member = members.get(name)
        if member is None or not member.isfile() or not _expected_name(name, expected):
            raise BackupError(f"{path} is damaged: {name} is missing or not a plain file.")
        target = scratch / str(number)
        digest = hashlib.sha256()
        with archive.extractfile(member) as stream, target.open("wb") as out:
            for chunk in iter(lambda: stream.read(CHUNK), b""):  # noqa: B023
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected["sha256"] or target.stat().st_size != expected["size"]:
            raise BackupError(
                f"{path} is damaged: {name} does not match its manifest. Nothing was changed."
            )
        staged[name] = target
    for member in (SQLITE_MEMBER, POSTGRESQL_MEMBER):
        if member in staged:
            return staged
    raise BackupError(f"{path} is damaged: it holds no database.")


def _expected_name(name: str, expected: dict) -> bool:
    """Tell whether ``name`` is one a backup writes: a blob is named by its own hash."""
    if name.startswith(f"{BLOBS}/"):
        sha256 = str(expected.get("sha256"))
        return name == f"{BLOBS}/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    return name in (SQLITE_MEMBER, POSTGRESQL_MEMBER, SETTINGS_MEMBER, *_key_files())


def _differing_settings(settings_file: Path | None) -> dict[str, object]:
    if settings_file is None:
        return {}
    saved = json.loads(settings_file.read_text(encoding="utf-8"))
    here = _settings()
    return {name: value for name, value in saved.items() if name in here and here[name] != value}


def _restore_blobs(staged: dict[str, Path]) -> int:
    blob_dir = Path(current_app.config["BLOB_DIR"])
    count = 0
    for name, source in staged.items():
        if name.startswith(f"{BLOBS}/"):
            target = blob_dir / name.removeprefix(f"{BLOBS}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)  # the scratch folder is in the data directory: a rename
            count += 1
    return count


def _stage_key_files(staged: dict[str, Path]) -> list[tuple[Path, Path]]:
    """Copy the keys and trust file beside their targets under temporary names."""
    pairs = []
    for name, target in _key_files().items():
        if name in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.restoring")
            shutil.copyfile(staged[name], temporary)
            os.chmod(temporary, 0o600)
            pairs.append((temporary, target))
    return pairs


def _restore_database(kind: str, staged: dict[str, Path]) -> None:
    # No connection of this process may hold the old database open while it is replaced.
    db.session.remove()
    if kind == "sqlite":
        with sqlite3.connect(staged[SQLITE_MEMBER]) as source:
            with db.engine.connect() as connection:
                # The backup API replaces the whole database in one transaction, WAL included.
                source.backup(connection.connection.dbapi_connection)
        source.close()
    else:
        _run_postgresql(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            str(staged[POSTGRESQL_MEMBER]),
        )
    db.engine.dispose()


# ---------------------------------------------------------------------------- PostgreSQL


def _run_postgresql(program: str, *args: str) -> None:
    """Run pg_dump or pg_restore on this server's database; the password goes in PGPASSWORD."""
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} was not found: install the PostgreSQL client programs "
            "(Debian: postgresql-client) of the server's major version."
        )
    url: URL = db.engine.url
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    connection = []
    host = url.host or url.query.get("host")
    if host:
        connection.append(f"--host={host}")
    if url.port:
        connection.append(f"--port={url.port}")
    if url.username:
        connection.append(f"--username={url.username}")
    connection += [f"--dbname={url.database}", "--no-password"]
    result = subprocess.run(
        [executable, *connection, *args], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        problem = result.stderr.strip().splitlines()
        detail = problem[0] if problem else f"exit code {result.returncode}"
        raise BackupError(f"{program} failed: {detail}")
