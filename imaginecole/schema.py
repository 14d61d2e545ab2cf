"""Bring the database to the schema this code expects, with Alembic's migrations.

The migrations live in ``imaginecole/migrations/versions/``. ``ensure_schema`` upgrades a
database that is behind, under a lock so that several workers or hosts starting together run
each migration once; it refuses a database that a newer Imaginecole has upgraded. A database
made before there were migrations (its tables created by ``create_all``) is checked against the
first migration and marked as being at it, then upgraded like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection

import imaginecole.models  # noqa: F401  (every table, for comparing the models with the database)
from imaginecole.datadir import schema_lock
from imaginecole.extensions import db, migrate

# The revision that creates the tables of the last release without migrations.
BASELINE = "5a3c9e1f2b7d"
# Any fixed number: every process that upgrades a PostgreSQL database asks for the same lock.
ADVISORY_LOCK_KEY = 7_130_501_244


class SchemaError(Exception):
    """The database cannot be brought to this code's schema; the message says what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against this code's migrations."""

    revision: str | None  # None: no migration was ever recorded
    head: str
    known: bool  # this code has the database's revision
    has_tables: bool  # some of Imaginecole's tables exist

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def ahead(self) -> bool:
        return self.revision is not None and not self.known

    def describe(self) -> str:
        if self.current:
            return f"Revision {self.revision}: up to date."
        if self.ahead:
            return ahead_message(self.revision)
        if self.revision is None and not self.has_tables:
            return "No tables yet: run `imaginecole db upgrade`."
        if self.revision is None:
            return (
                "Made before migrations: run `imaginecole db upgrade` (it keeps every row) "
                f"to reach revision {self.head}."
            )
        return (
            f"Revision {self.revision}, behind this version's {self.head}: "
            "run `imaginecole db upgrade`."
        )


def ahead_message(revision: str | None) -> str:
    return (
        f"This database was upgraded by a newer Imaginecole (revision {revision}, unknown to this "
        "version); install that version, or a newer one, to use it."
    )


def ensure_schema(app: Flask) -> None:
    """Upgrade the database to this code's schema; raise SchemaError if it is ahead."""
    with app.app_context(), db.engine.connect() as connection:
        if read_state(connection).current:
            return
        connection.rollback()
        with upgrade_lock(connection):
            upgrade(connection)


def upgrade(connection: Connection) -> None:
    """Bring the database to head; the caller holds the upgrade lock on ``connection``."""
    # Read again under the lock: another process may have upgraded meanwhile.
    state = read_state(connection)
    if state.ahead:
        raise SchemaError(ahead_message(state.revision))
    if state.revision is None and state.has_tables:
        check_made_before_migrations(connection)
        connection.commit()
        run_alembic(connection, command.stamp, BASELINE)
    connection.commit()  # Alembic commits only a transaction it began itself
    run_alembic(connection, command.upgrade, "head")
    connection.commit()


def read_state(connection: Connection) -> SchemaState:
    revision = MigrationContext.configure(connection).get_current_revision()
    script = script_directory()
    return SchemaState(
        revision=revision,
        head=script.get_current_head(),
        known=revision is None or revision in known_revisions(),
        has_tables=bool(model_tables() & set(inspect(connection).get_table_names())),
    )


def database_state(app: Flask) -> SchemaState:
    """Return where the app's database stands, changing nothing."""
    with app.app_context(), db.engine.connect() as connection:
        return read_state(connection)


def model_differences(app: Flask) -> list[str]:
    """Return how the models differ from the database's tables (none when they agree)."""
    with app.app_context(), db.engine.connect() as connection:
        return differences(connection)


def differences(connection: Connection, metadata: MetaData | None = None) -> list[str]:
    """Return how ``metadata`` (by default the models') differs from the database's tables."""
    context = MigrationContext.configure(connection, opts=migrate.alembic_ctx_kwargs)
    found = compare_metadata(context, db.metadata if metadata is None else metadata)
    return [repr(difference) for difference in found]


def write_migration(app: Flask, message: str) -> Path | None:
    """Write a migration for what the models changed; return its file, or None if nothing did."""
    if not model_differences(app):
        return None
    with app.app_context():
        script = command.revision(alembic_config(), message, autogenerate=True)
    return Path(script.path)


def check_made_before_migrations(connection: Connection) -> None:
    """Make sure tables made without migrations are those the first migration creates."""
    expected = baseline_columns()
    found = table_columns(connection, expected)
    problems = []
    for table, columns in sorted(expected.items()):
        if table not in found:
            problems.append(f"table {table} is missing")
        elif found[table] != columns:
            missing = [f"missing column {name}" for name in sorted(columns - found[table])]
            extra = [f"unexpected column {name}" for name in sorted(found[table] - columns)]
            problems.append(f"table {table}: " + ", ".join(missing + extra))
    if problems:
        raise SchemaError(
            "This database was made before migrations, but its tables are not those of the "
            "release that made such databases, so it cannot be upgraded safely: "
            + "; ".join(problems)
            + ". Restore it from a backup made by that release, or start from an empty database."
        )


@functools.cache
def baseline_columns() -> dict[str, set[str]]:
    """Return the tables and columns the first migration creates, by running it in memory."""
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            run_alembic(connection, command.upgrade, BASELINE)
            tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
            return table_columns(connection, tables)
    finally:
        engine.dispose()


def table_columns(connection: Connection, tables: Iterable[str]) -> dict[str, set[str]]:
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in tables
        if table in present
    }


def model_tables() -> set[str]:
    return set(db.metadata.tables)


def run_alembic(
    connection: Connection, alembic_command: Callable[[Config, str], object], revision: str
) -> None:
    """Run an Alembic command (upgrade, stamp) on ``connection``, which env.py then uses."""
    config = alembic_config()
    config.attributes["connection"] = connection
    alembic_command(config, revision)


def alembic_config() -> Config:
    return migrate.get_config()


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(Path(migrate.directory)))


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in script_directory().walk_revisions())


@contextmanager
def upgrade_lock(connection: Connection) -> Iterator[None]:
    """Hold the lock that lets one process at a time upgrade this database.

    PostgreSQL: an advisory lock of the migration's connection, which every host sees and the
    server releases if the process dies. Other databases (SQLite): a file lock in the data
    directory, which serves the processes of one machine.
    """
    if connection.dialect.name != "postgresql":
        with schema_lock():
            yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()  # the lock belongs to the session and outlives this transaction
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


def where(app: Flask) -> str:
    """Say where the database is, without its password."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return url.database or "memory"
    return url.render_as_string(hide_password=True)
