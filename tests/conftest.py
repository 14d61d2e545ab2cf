"""Shared fixtures: apps on throw-away data directories, loaded with the fictional country zz."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from imaginecole.app import create_app
from imaginecole.bundles.keys import generate_signing_key
from imaginecole.extensions import db
from imaginecole.schema import ensure_schema

TESTS_DIR = Path(__file__).resolve().parent
TEST_CONTENT = TESTS_DIR / "data" / "content"
REPO_ROOT = TESTS_DIR.parent
CORPUS = (REPO_ROOT.parent / "shared" / "corpus").resolve()

# Settings from the machine running the tests must not leak into them.
for _name in [name for name in os.environ if name.startswith("IMAGINECOLE_")]:
    del os.environ[_name]


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
    database = Path(data_dir) / DATABASE_FILE
    if (
        _migrated_database
        and not database.exists()
        and not config.keys() & {"DATABASE_URL", "SQLALCHEMY_DATABASE_URI"}
    ):
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_database, database)
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, **config})
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
    return loaded_app.test_client()


@pytest.fixture
def app(tmp_path):
    """A fresh, empty app of its own, for tests that write."""
    return make_app(tmp_path / "data")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def content_copy(tmp_path):
    """A writable copy of the zz test content, for tests that break files on purpose."""
    import shutil

    target = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, target)
    return target
