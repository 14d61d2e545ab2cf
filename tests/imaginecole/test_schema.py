"""Migrations: the models agree with them, upgrades keep every row and file, and races are safe."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from alembic import command
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from imaginecole.accounts.operations import create_user
from imaginecole.app import create_app
from imaginecole.bundles import operations as bundle_operations
from imaginecole.bundles.operations import build_country_bundle
from imaginecole.content import operations as content_operations
from imaginecole.content.models import LessonText
from imaginecole.datadir import schema_lock, signing_key_path
from imaginecole.extensions import db
from imaginecole.oai.queries import record_removals
from imaginecole.schema import (
    BASELINE,
    SchemaError,
    baseline_columns,
    database_state,
    differences,
    ensure_schema,
    run_alembic,
    script_directory,
    table_columns,
)
from imaginecole.serving import prepare
from sync.bundle import load_private_key
from tests.conftest import REPO_ROOT, give_signing_key, load_content

NEWER = "f0f0f0f0f0f0"  # a revision no version of this code has


def bare_app(data_dir: Path):
    """An app on ``data_dir`` whose database nothing has touched yet (no copied template)."""
    return create_app({"DATA_DIR": str(data_dir), "TESTING": True})


def connect(app):
    with app.app_context():
        return db.engine.connect()


def head() -> str:
    return script_directory().get_current_head()


# ---------------------------------------------------------------------------- models and migrations


def test_the_migrations_make_the_tables_the_models_describe(tmp_path):
    app = bare_app(tmp_path)
    ensure_schema(app)

    with connect(app) as connection:
        # A model changed without a migration shows here: write one with `imaginecole db migrate`.
        assert differences(connection) == []
    assert database_state(app).current


def test_a_model_changed_without_a_migration_is_noticed(tmp_path):
    app = bare_app(tmp_path)
    ensure_schema(app)
    changed = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["user"].append_column(Column("nickname", String(40)))

    with connect(app) as connection:
        found = differences(connection, changed)

    assert len(found) == 1 and "nickname" in found[0]


def test_db_check_says_whether_models_and_migrations_agree(tmp_path):
    app = bare_app(tmp_path)
    runner = app.test_cli_runner()

    behind = runner.invoke(args=["db", "check"])
    assert behind.exit_code == 1 and "run `imaginecole db upgrade`" in behind.output

    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    agreed = runner.invoke(args=["db", "check"])
    assert agreed.exit_code == 0, agreed.output
    assert "agree" in agreed.output


def test_db_current_tells_the_revision_and_whether_it_is_the_newest(tmp_path):
    app = bare_app(tmp_path)
    runner = app.test_cli_runner()

    assert "No tables yet" in runner.invoke(args=["db", "current"]).output
    run_at(app, BASELINE)
    current = runner.invoke(args=["db", "current"]).output
    if BASELINE == head():
        assert f"Revision {BASELINE}: up to date." in current
    else:
        assert f"Revision {BASELINE}, behind" in current


def test_db_upgrade_says_where_the_database_is_without_its_password(tmp_path):
    app = bare_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["db", "init"])

    assert result.exit_code == 0, result.output
    assert (
        f"Database ready: {tmp_path / 'imaginecole.sqlite3'} (revision {head()})" in result.output
    )


def run_at(app, revision: str) -> None:
    """Bring a fresh database to ``revision`` only, as the release that stopped there did."""
    with connect(app) as connection:
        with app.app_context():
            run_alembic(connection, command.upgrade, revision)
        connection.commit()


# ---------------------------------------------------------------------------- upgrades keep data


def fill(app) -> None:
    """Write a little of everything a server keeps: content with media, accounts, a bundle.

    This runs today's code on a database at the first revision, which it matches. When a later
    migration changes a table written here, write that table's rows with SQL of the first
    revision instead.
    """
    # The first revision has no module_tombstone table: write as a release of that time did.
    event.remove(Session, "before_flush", record_removals)
    try:
        _fill(app)
    finally:
        event.listen(Session, "before_flush", record_removals)


def _without_rendering(**fields) -> LessonText:
    fields.pop("rendering")
    return LessonText(**fields)


def _fill(app) -> None:
    # The first revision does not record which renderer made a lesson (e4a1c7b93f52).
    with patch.object(content_operations, "LessonText", _without_rendering):
        assert not load_content(app).problems  # curriculum, modules, lessons, media and files
    give_signing_key(app)
    with app.app_context():
        create_user("awa@ecole.zz", "Awa Diop", "a long password", "teacher", "zz", "École A")
        create_user("moussa@zz.example", "Moussa Ba", "a long password", "editor", "zz")
        db.session.commit()
        # The first revision has no signing_key table: sign as a release of that time did.
        with (
            patch.object(
                bundle_operations,
                "signing_key_for",
                lambda country: load_private_key(signing_key_path()),
            ),
            patch.object(bundle_operations, "record_first_key", lambda country, key: None),
            # Nor a built_bundle_file table: no hashes of the files were kept.
            patch.object(bundle_operations, "file_rows", lambda parts: []),
        ):
            build_country_bundle("zz")  # the bundle file, its row, module versions
        db.session.commit()
        with db.engine.begin() as connection:
            fill_empty_tables(connection)


def fill_empty_tables(connection) -> None:
    """Give each table still empty a row (submissions, reviews, enrolments, installed bundles…)."""
    tables = MetaData()
    tables.reflect(connection)
    for table in tables.sorted_tables:
        if table.name == "alembic_version" or connection.scalar(
            select(func.count()).select_from(table)
        ):
            continue
        row = {}
        for column in table.columns:
            if column.foreign_keys:
                [key] = column.foreign_keys
                row[column.name] = connection.scalar(select(key.column).limit(1))
            elif not (column.primary_key and isinstance(column.type, Integer)):
                row[column.name] = sample_value(table.name, column)
        connection.execute(insert(table).values(row))


def sample_value(table: str, column):
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return 7
    if isinstance(kind, DateTime):
        return datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    if isinstance(kind, JSON):
        return {"kept": [table, column.name]}
    value = f"{table}.{column.name} é"
    if isinstance(kind, String) and kind.length:
        return value[: kind.length]
    assert isinstance(kind, String | Text), kind
    return value


def every_row(app) -> dict[str, list[str]]:
    with app.app_context(), db.engine.connect() as connection:
        tables = MetaData()
        tables.reflect(connection)
        return {
            name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for name, table in tables.tables.items()
            if name != "alembic_version"
        }


def every_file(data_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(data_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and not path.name.startswith("imaginecole.sqlite3")
    }


def test_upgrading_from_the_first_migration_keeps_every_row_and_file(tmp_path):
    data_dir = tmp_path / "data"
    app = bare_app(data_dir)
    run_at(app, BASELINE)
    fill(app)
    rows, files = every_row(app), every_file(data_dir)
    assert all(rows.values()), [name for name, found in rows.items() if not found]
    assert any(name.startswith("blobs/") for name in files)
    assert any(name.endswith("zz-main-v1.icb") for name in files)
    with app.app_context():
        db.engine.dispose()

    upgraded = bare_app(data_dir)
    ensure_schema(upgraded)

    assert database_state(upgraded).current
    after = every_row(upgraded)
    # 3f1d2c4b5a69: a build started before notes existed has an empty one.
    rows["build_job"] = [row.removesuffix(")") + ", '')" for row in rows["build_job"]]
    # Module versions gain what made them and which one: a version naming a person (all the
    # filled ones) was made in the browser.
    rows["module_version"] = sorted(
        row.removesuffix(")") + ", 'curation', '')" for row in rows["module_version"]
    )
    # Reviews gain their stage, outcome and edits: each filled one was a decision on its own.
    # Lessons stored before count as made by renderer 0: the next start renders them again.
    rows["lesson_text"] = sorted(row.removesuffix(")") + ", 0)" for row in rows["lesson_text"])
    rows["review"] = sorted(row.removesuffix(")") + ", 'single', '', {})" for row in rows["review"])
    for name, found in rows.items():
        # Rows compare whole while a table keeps its columns; a migration that changes one
        # must say here how its rows become the new ones.
        assert after[name] == found, name
    assert every_file(data_dir).items() >= files.items()


# ---------------------------------------------------------------------------- made before migrations


INDEXES_ADDED_SINCE_RELEASE_0_1 = ("ix_upload_sha256",)


def create_release_0_1_tables() -> None:
    """Make the tables as release 0.1 did: create_all, from the models of the first migration."""
    first = baseline_columns()
    db.metadata.create_all(
        db.engine, tables=[table for table in db.metadata.sorted_tables if table.name in first]
    )
    # Today's models of those tables carry indexes later migrations added: not release 0.1's.
    with db.engine.begin() as connection:
        for index in INDEXES_ADDED_SINCE_RELEASE_0_1:
            connection.execute(text(f"DROP INDEX {index}"))
    # Columns added to those tables since then were not there.
    with db.engine.begin() as connection:
        for table, columns in table_columns(connection, first).items():
            for column in sorted(columns - first[table]):
                connection.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))


def test_a_database_made_before_migrations_is_recognised_and_kept(tmp_path):
    app = bare_app(tmp_path)
    with app.app_context():
        create_release_0_1_tables()
        create_user("admin@ecole.zz", "Admin", "a long password", "admin")
        db.session.commit()
        db.engine.dispose()

    state = database_state(app)
    assert state.revision is None and state.has_tables
    assert "Made before migrations" in state.describe()

    ensure_schema(app)

    assert database_state(app).current
    with connect(app) as connection:
        assert differences(connection) == []
        emails = connection.scalars(text('SELECT email FROM "user"')).all()
    assert emails == ["admin@ecole.zz"]


def test_a_database_made_before_migrations_with_other_tables_is_refused(tmp_path):
    app = bare_app(tmp_path)
    with app.app_context():
        create_release_0_1_tables()
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE asset DROP COLUMN height"))

    with pytest.raises(SchemaError, match="table asset: missing column height"):
        ensure_schema(app)
    assert database_state(app).revision is None  # nothing was stamped


# ---------------------------------------------------------------------------- ahead and races


def upgraded_by_a_newer_version(app) -> None:
    ensure_schema(app)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})


AHEAD = f"This database was upgraded by a newer Imaginecole (revision {NEWER}"


def test_a_database_ahead_of_the_code_is_refused_everywhere(tmp_path):
    app = bare_app(tmp_path)
    upgraded_by_a_newer_version(app)

    with pytest.raises(SchemaError, match=r"install that version"):
        ensure_schema(app)
    with pytest.raises(SchemaError, match=r"install that version"):
        prepare(app)
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["content", "load"], ["users", "list"], ["serve"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, args
        assert AHEAD in result.output, args
    current = runner.invoke(args=["db", "current"])
    assert AHEAD in current.output


def test_workers_starting_together_upgrade_a_fresh_database_once(tmp_path):
    """Two processes wait on the schema lock, then race; both start, one migrates."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IMAGINECOLE_")},
        "IMAGINECOLE_DATA_DIR": str(tmp_path),
    }
    upgrade = [sys.executable, "-m", "imaginecole", "db", "upgrade"]
    app = bare_app(tmp_path)
    with app.app_context(), schema_lock():
        workers = [
            subprocess.Popen(upgrade, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        time.sleep(3)  # both past their start, waiting on the lock
        assert all(worker.poll() is None for worker in workers)
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert database_state(app).current
    with connect(app) as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


# ---------------------------------------------------------------------------- durability


def test_sqlite_waits_for_the_disk_before_a_commit_returns(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'any.sqlite3'}")
    with engine.connect() as connection:
        # 2 is FULL: a commit is on the disk, WAL included, before it returns.
        assert connection.scalar(text("PRAGMA synchronous")) == 2
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
    engine.dispose()


def test_the_wheel_carries_the_migrations():
    setup = (REPO_ROOT / "setup.cfg").read_text(encoding="utf-8")
    versions = Path(script_directory().versions)
    assert "migrations/*, migrations/versions/*.py" in setup
    assert list(versions.glob("*.py")) and (versions.parent / "alembic.ini").exists()
