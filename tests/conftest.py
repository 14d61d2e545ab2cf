"""Shared fixtures: apps on throw-away data directories, loaded with the fictional country zz.

The suite runs on SQLite (the default) or on PostgreSQL: ``--database=postgresql`` (or
``IMAGINECOLE_TEST_DATABASE=postgresql``) starts a private cluster for the run;
``--database=postgresql+psycopg://…`` uses a running server where the tests may create databases.
On PostgreSQL every data directory gets a database of its own, copied from a template that holds
the schema, and every database is dropped at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from imaginecole.app import create_app
from imaginecole.bundles.keys import generate_signing_key
from imaginecole.extensions import db
from imaginecole.schema import ensure_schema
from tests import postgresql

TESTS_DIR = Path(__file__).resolve().parent
TEST_CONTENT = TESTS_DIR / "data" / "content"
# A lesson of exercises (every kind) with a sound and its captions, added to zz-sciences-eau
# by the tests of exercises only, so the other tests keep their counts.
EXERCISE_LESSON = TESTS_DIR / "data" / "exercises"
REPO_ROOT = TESTS_DIR.parent
CORPUS = (REPO_ROOT.parent / "shared" / "corpus").resolve()

# Read before the settings below are removed; pytest-xdist hands the option to its workers.
TEST_DATABASE = os.environ.get("IMAGINECOLE_TEST_DATABASE", "sqlite")
# Ports for the servers tests start (``8200-8299``); empty: any the system gives.
TEST_PORTS = os.environ.get("IMAGINECOLE_TEST_PORTS", "")

# Settings from the machine running the tests must not leak into them.
for _name in [name for name in os.environ if name.startswith("IMAGINECOLE_")]:
    del os.environ[_name]
# One app plays the school and the national server in most tests: show the tools of both.
# Tests of the role itself set SERVER_ROLE.
os.environ["IMAGINECOLE_SERVER_ROLE"] = "both"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        default=TEST_DATABASE,
        help="sqlite (default), postgresql (a private cluster for this run) or the URL of a "
        "PostgreSQL server where the tests may create and drop databases "
        "(default: $IMAGINECOLE_TEST_DATABASE or sqlite)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {config.getoption('database').split('://')[0]}"


class DatabaseServer:
    """One PostgreSQL database per data directory, copied from a template with the schema."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.prefix = f"test_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_template"
        self.urls: dict[Path, str] = {}
        self.admin: Engine = sqlalchemy.create_engine(
            self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        self._execute(f'CREATE DATABASE "{self.template}"')
        # No connection stays open (no pool): a template cannot be copied while one is.
        with tempfile.TemporaryDirectory(prefix="imaginecole-template-") as data_dir:
            config = self.config_of(self.url_of(self.template))
            ensure_schema(create_app({"DATA_DIR": data_dir, "TESTING": True, **config}))

    @staticmethod
    def config_of(url: str) -> dict:
        # Tests make hundreds of apps: a pool per app would keep idle connections open long
        # after each test, beyond the server's limit.
        return {"DATABASE_URL": url, "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": NullPool}}

    def url_of(self, database: str) -> str:
        return self.server_url.set(database=database).render_as_string(hide_password=False)

    def url_for(self, data_dir: Path, schema: bool = True) -> str:
        """Return the URL of ``data_dir``'s database, created the first time it is asked for."""
        data_dir = Path(data_dir).resolve()
        if data_dir not in self.urls:
            self._create(data_dir, self.template if schema else "template0")
        return self.urls[data_dir]

    def copy(self, source: Path, target: Path) -> None:
        """Give ``target`` a copy of ``source``'s database (nobody may be connected to it)."""
        self._create(Path(target).resolve(), make_url(self.url_for(source)).database)

    def _create(self, data_dir: Path, template: str) -> None:
        name = f"{self.prefix}_{hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.urls[data_dir] = self.url_of(name)

    def drop_all(self) -> None:
        for url in [*self.urls.values(), self.url_of(self.template)]:
            self._execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        self.admin.dispose()

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(sqlalchemy.text(statement))


# The PostgreSQL databases of this run, or None on SQLite.
DATABASES: DatabaseServer | None = None


@pytest.fixture(scope="session", autouse=True)
def test_databases(request: pytest.FixtureRequest):
    """Connect the run to its database server: none for SQLite, else a private or given one."""
    global DATABASES
    choice = request.config.getoption("database")
    if choice == "sqlite":
        yield None
        return
    cluster = None
    if choice == "postgresql":
        cluster = Path(tempfile.mkdtemp(prefix="imaginecole-pg-"))
        try:
            choice = postgresql.start(cluster)
        except BaseException:
            postgresql.stop(cluster)
            raise
    elif not choice.startswith("postgresql"):
        raise pytest.UsageError(f"--database must be sqlite, postgresql or a URL, not {choice!r}")
    try:
        DATABASES = DatabaseServer(choice)
        yield DATABASES
        DATABASES.drop_all()
    finally:
        DATABASES = None
        if cluster is not None:
            postgresql.stop(cluster)


def on_postgresql() -> bool:
    return DATABASES is not None


def database_config(data_dir: Path, schema: bool = True) -> dict:
    """Return the settings that give ``data_dir`` its own database (none on SQLite).

    ``schema=False`` gives an empty database, as a new server starts with.
    """
    if DATABASES is None:
        return {}
    return DATABASES.config_of(DATABASES.url_for(data_dir, schema))


def database_env(data_dir: Path) -> dict[str, str]:
    """Return the environment variables that point a subprocess at ``data_dir`` and its database.

    With the server role the tests run under (both sides' tools).
    """
    env = {"IMAGINECOLE_DATA_DIR": str(data_dir), "IMAGINECOLE_SERVER_ROLE": "both"}
    if DATABASES is not None:
        env["IMAGINECOLE_DATABASE_URL"] = DATABASES.url_for(data_dir)
    return env


def copy_data_dir(source: Path, target: Path) -> None:
    """Copy a data directory, and its database on PostgreSQL, for a test that writes."""
    shutil.copytree(source, target)
    if DATABASES is not None:
        DATABASES.copy(source, target)


DATABASE_FILE = "imaginecole.sqlite3"
# A database the migrations brought to head, made once per run: running every migration for each
# of the suite's many apps would be slow. Each new data directory starts from a copy of it.
_migrated_database: Path | None = None


@pytest.fixture(scope="session", autouse=True)
def migrated_database(tmp_path_factory) -> Path:
    global _migrated_database
    data_dir = tmp_path_factory.mktemp("migrated")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    ensure_schema(app)
    with app.app_context():
        db.engine.dispose()  # the last connection to close folds the WAL into the file
    _migrated_database = data_dir / DATABASE_FILE
    return _migrated_database


def make_app(data_dir: Path, **config):
    """An app on ``data_dir``, its database at the newest schema revision."""
    own_database = database_config(data_dir)  # on PostgreSQL, a copy of the template
    database = Path(data_dir) / DATABASE_FILE
    if (
        not own_database
        and _migrated_database
        and not database.exists()
        and not config.keys() & {"DATABASE_URL", "SQLALCHEMY_DATABASE_URI"}
    ):
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_database, database)
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, **own_database, **config})
    ensure_schema(app)  # a no-op on the copy, as on any server already up to date
    return app


def give_signing_key(app) -> None:
    """Create a national server's signing key, on purpose, as ``imaginecole keys generate`` does."""
    with app.app_context():
        generate_signing_key()


def load_content(app, directory: Path = TEST_CONTENT):
    """Load a content folder into ``app``, commit, index it and return the load report."""
    from imaginecole.content.operations import load_tree
    from imaginecole.extensions import db
    from imaginecole.search.indexing import sync_index
    from sync.content import read_content

    with app.app_context():
        report = load_tree(read_content(directory))
        db.session.commit()
        if report.changed:
            sync_index()
        return report


@pytest.fixture(scope="session")
def loaded_app(tmp_path_factory):
    """An app with the zz test content loaded, shared by tests that only read."""
    app = make_app(tmp_path_factory.mktemp("loaded"))
    report = load_content(app)
    assert not report.problems, report.problems
    return app


@pytest.fixture
def client(loaded_app):
    # Each test starts with no cached page: a test that breaks a query must see it rendered.
    loaded_app.extensions["page_store"].clear()
    return loaded_app.test_client()


@pytest.fixture
def app(tmp_path):
    """A fresh, empty app of its own, for tests that write."""
    return make_app(tmp_path / "data")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def add_exercise_lesson(content: Path) -> Path:
    """Add the exercise lesson to zz-sciences-eau in ``content``; return that module's folder."""
    module = content / "zz" / "modules" / "zz-sciences-eau"
    shutil.copytree(EXERCISE_LESSON, module, dirs_exist_ok=True)
    return module


@pytest.fixture(scope="session")
def exercises_app(tmp_path_factory):
    """An app with the zz test content and the exercise lesson loaded, for tests that only read."""
    content = tmp_path_factory.mktemp("exercises-content") / "content"
    shutil.copytree(TEST_CONTENT, content)
    add_exercise_lesson(content)
    app = make_app(tmp_path_factory.mktemp("exercises"))
    report = load_content(app, content)
    assert not report.problems, report.problems
    return app


@pytest.fixture
def content_copy(tmp_path):
    """A writable copy of the zz test content, for tests that break files on purpose."""
    import shutil

    target = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, target)
    return target
