"""What only the PostgreSQL engine does: its index is part of the database transaction.

The engine's search behaviour is checked with the Whoosh engine's in ``test_interface`` and
``test_relevance``; here, what several hosts on one database see, and the setting that chooses
the engine. Tests needing PostgreSQL are skipped on SQLite.
"""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from imaginecole.app import create_app
from imaginecole.config import SettingError, search_engine_for
from imaginecole.content.operations import load_tree
from imaginecole.extensions import db
from imaginecole.schema import SchemaError, ensure_schema, run_alembic
from imaginecole.search import search_index
from imaginecole.search.indexing import sync_index
from imaginecole.search.interface import SearchQuery
from imaginecole.search.postgresql_engine import WEIGHTS, PostgresIndex, edit_distance
from imaginecole.search.whoosh_engine import WhooshIndex
from sync.content import read_content
from tests import conftest as suite
from tests.conftest import TEST_CONTENT, database_config, make_app, on_postgresql

needs_postgresql = pytest.mark.skipif(
    "not on_postgresql()", reason="the PostgreSQL engine needs --database=postgresql"
)


def found(app, text: str) -> list[tuple[str, str]]:
    with app.app_context():
        results = search_index().search(SearchQuery(text=text))
        return [(hit.module_uid, hit.lesson_slug) for hit in results.hits]


def load(app, content) -> None:
    """Load and commit content, without running ``sync_index`` after the commit."""
    with app.app_context():
        report = load_tree(read_content(content))
        assert not report.problems, report.problems
        db.session.commit()


@pytest.fixture
def two_hosts(tmp_path):
    """Two apps with their own data folders on one PostgreSQL database, as two app hosts."""
    if not on_postgresql():
        pytest.skip("two hosts share a PostgreSQL database: run with --database=postgresql")
    host_a = make_app(tmp_path / "a")
    url = database_config(tmp_path / "a")["DATABASE_URL"]
    host_b = create_app(
        {"DATA_DIR": str(tmp_path / "b"), "TESTING": True, **suite.DATABASES.config_of(url)}
    )
    return host_a, host_b


def test_a_change_committed_on_one_host_is_found_at_once_on_the_other(two_hosts, tmp_path):
    host_a, host_b = two_hosts
    assert found(host_b, "évaporation") == []  # host B's index is opened before the change
    load(host_a, TEST_CONTENT)
    assert found(host_b, "évaporation") == [("zz-sciences-eau", "evaporation")]
    changed = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, changed)
    lesson = changed / "zz" / "modules" / "zz-sciences-eau" / "01-evaporation.md"
    lesson.write_text(
        lesson.read_text(encoding="utf-8").replace("mare", "flaque"), encoding="utf-8"
    )
    toml = changed / "zz" / "modules" / "zz-sciences-eau" / "module.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("version = 1", "version = 2"))
    load(host_a, changed)
    assert found(host_b, "flaque") == [("zz-sciences-eau", "evaporation")]
    assert found(host_b, "mare") == []
    with host_b.app_context():
        assert isinstance(search_index(), PostgresIndex)


@needs_postgresql
def test_the_commit_writes_the_index_before_anyone_sees_the_content(app):
    # No sync_index after the commit: the rows were written by the commit itself.
    load(app, TEST_CONTENT)
    with app.app_context():
        assert search_index().fingerprints().keys() == {
            "zz-maths-fractions",
            "zz-sciences-eau",
            "zz-histoire-royaume",
        }


@needs_postgresql
def test_the_postings_rank_as_postgresql_ranks(app):
    # A term's posting adds to a match's rank what ts_rank counts for it: one term's score is
    # ts_rank's for that term, several terms' sum is ts_rank's times their number.
    load(app, TEST_CONTENT)
    weights = "{" + ", ".join(str(WEIGHTS[letter]) for letter in "DCBA") + "}"
    with app.app_context(), db.engine.connect() as connection:
        postings, terms = connection.execute(
            sqlalchemy.text(
                "SELECT (SELECT count(*) FROM search_posting), "
                "(SELECT sum(length(terms)) FROM search_document)"
            )
        ).one()
        assert postings == terms > 100  # one posting for each term of each document
        compared = connection.execute(
            sqlalchemy.text(
                """
                WITH pairs AS (
                    SELECT d.number, d.terms, array_agg(p.term) AS names, sum(p.score) AS total
                    FROM search_document d JOIN search_posting p ON p.document = d.number
                    WHERE p.term IN ('fr:eau', 'fr=eau', 'fr:mare', 'fr:evapor', 'fr:fraction')
                    GROUP BY d.number, d.terms
                )
                SELECT total, cardinality(names) * ts_rank(CAST(:weights AS real[]), terms,
                    CAST(array_to_string(ARRAY(SELECT quote_literal(name) FROM unnest(names)
                    AS name), ' | ') AS tsquery), 0)
                FROM pairs
                """
            ),
            {"weights": weights},
        ).all()
    assert len(compared) >= 3 and any(total > 0.5 for total, _ in compared)
    for total, ts_rank in compared:
        assert total == pytest.approx(ts_rank, rel=1e-5)


@needs_postgresql
def test_the_search_plans_stay_on_the_searches_connections(app):
    # Searches turn off sequential scans and merge joins on their own connections, which read
    # in autocommit (one round trip each); the app's other queries keep the planner's defaults.
    load(app, TEST_CONTENT)
    settings = sqlalchemy.text(
        "SELECT current_setting('enable_seqscan'), current_setting('enable_mergejoin')"
    )
    assert found(app, "évaporation") == [("zz-sciences-eau", "evaporation")]
    with app.app_context():
        with search_index().reader.connect() as reader:
            assert reader.execute(settings).one() == ("off", "off")
            assert reader.connection.dbapi_connection.autocommit
        with db.engine.connect() as other:
            assert other.execute(settings).one() == ("on", "on")


@needs_postgresql
def test_an_index_written_before_the_postings_is_rebuilt_at_the_next_start(tmp_path):
    # A national server upgraded from the schema before the postings keeps its documents,
    # numbered, until the start's sync rebuilds the index with the postings.
    data_dir = tmp_path / "data"
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, **database_config(data_dir)})
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE search_posting"))
        connection.execute(sqlalchemy.text("DELETE FROM alembic_version"))
        run_alembic(connection, command.stamp, "f3b8d2a6c914")
        connection.execute(sqlalchemy.text("ALTER TABLE search_document DROP COLUMN number"))
        for number in (1, 2):  # as the engine of that schema wrote them
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO search_document (id, module_uid, kind, lesson_slug, lang, "
                    "country, levels, subject, resource_type, title, module_title, body, terms) "
                    "VALUES (:id, 'zz-old', 'lesson', :slug, 'fr', 'zz', '', 'sciences', "
                    "'lesson', 'Ancienne', 'Ancien', 'mare', CAST(:terms AS tsvector))"
                ),
                {
                    "id": f"lesson:zz-old:l{number}:fr",
                    "slug": f"l{number}",
                    "terms": "'fr:mar':1D 'fr=mare':1C",
                },
            )
        connection.execute(
            sqlalchemy.text("INSERT INTO search_state (id, analysis) VALUES (1, '1')")
        )
        connection.commit()
    ensure_schema(app)
    with app.app_context(), db.engine.connect() as connection:
        numbers = connection.scalars(sqlalchemy.text("SELECT number FROM search_document"))
        assert len(set(numbers)) == 2  # PostgreSQL numbered the rows there
        assert search_index().needs_rebuild()
    load(app, TEST_CONTENT)
    with app.app_context():
        assert sync_index().rebuilt
    assert found(app, "mare") == [("zz-sciences-eau", "evaporation")]
    with app.app_context(), db.engine.connect() as connection:
        assert connection.scalar(sqlalchemy.text("SELECT count(*) FROM search_posting")) > 100


def test_whoosh_follows_the_commit_as_before(tmp_path):
    # On SQLite (or when chosen), the Whoosh engine is indexed by sync_index after the commit.
    app = make_app(tmp_path / "data", SEARCH_ENGINE="whoosh")
    load(app, TEST_CONTENT)
    with app.app_context():
        assert isinstance(search_index(), WhooshIndex)
        assert search_index().fingerprints() == {}


@pytest.mark.parametrize(
    "setting, url, engine",
    [
        ("auto", "sqlite:///x.sqlite3", "whoosh"),
        ("", "sqlite:///x.sqlite3", "whoosh"),
        ("auto", "postgresql+psycopg://u@/db", "postgresql"),
        ("whoosh", "postgresql+psycopg://u@/db", "whoosh"),
        ("PostgreSQL", "postgresql+psycopg://u@/db", "postgresql"),
        ("whoosh", "sqlite:///x.sqlite3", "whoosh"),
    ],
)
def test_the_setting_chooses_the_engine(setting, url, engine):
    assert search_engine_for(setting, url) == engine


def test_postgresql_engine_on_sqlite_is_refused_with_what_to_do():
    with pytest.raises(SettingError, match="not PostgreSQL.*IMAGINECOLE_DATABASE_URL"):
        search_engine_for("postgresql", "sqlite:///x.sqlite3")


def test_unknown_engine_is_refused():
    with pytest.raises(SettingError, match="elasticsearch.*auto, whoosh, postgresql"):
        search_engine_for("elasticsearch", "sqlite:///x.sqlite3")


def test_the_app_refuses_to_start_with_a_wrong_engine(tmp_path):
    with pytest.raises(SettingError):
        create_app({"DATA_DIR": str(tmp_path), "SEARCH_ENGINE": "solr", "TESTING": True})


def test_edit_distance():
    assert edit_distance("algoritme", "algorithme", 2) == 1
    assert edit_distance("glouton", "gloutom", 2) == 1
    assert edit_distance("abc", "xyzabc", 2) == 3
    assert edit_distance("", "ab", 2) == 2


def test_a_role_that_may_not_create_pg_trgm_is_told_what_to_run(tmp_path):
    if not on_postgresql():
        pytest.skip("PostgreSQL roles: run with --database=postgresql")
    server = suite.DATABASES
    admin_url = server.url_for(tmp_path / "data", schema=False)  # an empty database
    database = make_url(admin_url).database
    role = f"{database}_app"
    owner = sqlalchemy.create_engine(admin_url, poolclass=NullPool)
    with server.admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        with owner.begin() as connection:  # tables yes, extensions no
            connection.execute(sqlalchemy.text(f'GRANT CREATE ON SCHEMA public TO "{role}"'))
        url = make_url(admin_url).set(username=role).render_as_string(False)
        app = create_app(
            {"DATA_DIR": str(tmp_path / "data"), "TESTING": True, **server.config_of(url)}
        )
        expected = f'psql -d "{database}" -c "CREATE EXTENSION pg_trgm;"'
        with pytest.raises(SchemaError, match=expected):
            ensure_schema(app)
    finally:
        with owner.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP OWNED BY "{role}"'))
        owner.dispose()
        with server.admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP ROLE "{role}"'))
