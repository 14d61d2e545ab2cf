"""Settings: each one explained, the data directory honoured, SQLite set up for a school server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from imaginecole.__main__ import main
from imaginecole.accounts.models import LoginFailure
from imaginecole.app import create_app
from imaginecole.config import SETTINGS, SettingError
from imaginecole.datadir import signing_key_path, trust_file_path
from imaginecole.extensions import db
from imaginecole.schema import ensure_schema
from tests.conftest import TEST_CONTENT, load_content, make_app


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_has_a_help_line(setting):
    assert setting.name == setting.name.upper()
    help_text = setting.help.strip()
    assert len(help_text) >= 15 and "\n" not in help_text
    assert help_text[0].isupper()


def test_data_dir_from_the_environment_holds_database_and_blobs(tmp_path, monkeypatch):
    data_dir = tmp_path / "school"
    monkeypatch.setenv("IMAGINECOLE_DATA_DIR", str(data_dir))
    app = create_app({"TESTING": True})
    ensure_schema(app)

    report = load_content(app)

    assert list(report.problems) == []
    assert Path(app.config["DATA_DIR"]) == data_dir.resolve()
    assert (data_dir / "imaginecole.sqlite3").is_file()
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 5  # the zz picture and its four variants
    assert (data_dir / "secret_key").is_file()
    assert app.test_client().get("/fr/modules/zz-maths-fractions/").status_code == 200


def test_two_data_dirs_do_not_see_each_others_content(tmp_path):
    school = make_app(tmp_path / "school")
    other = make_app(tmp_path / "other")

    load_content(school, TEST_CONTENT)

    assert school.test_client().get("/fr/zz/").status_code == 200
    assert other.test_client().get("/fr/zz/").status_code == 404
    assert not (tmp_path / "other" / "blobs").exists() or not any(
        p.is_file() for p in (tmp_path / "other" / "blobs").rglob("*")
    )
    assert school.config["SECRET_KEY"] != other.config["SECRET_KEY"]


def test_the_secret_key_is_kept_between_starts(tmp_path):
    first = make_app(tmp_path / "data")
    second = make_app(tmp_path / "data")

    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    # The default database, SQLite in the data directory, on PostgreSQL test runs too.
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True})
    ensure_schema(app)
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(app):
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                text(
                    "INSERT INTO level (country_code, cycle_id, code, slug, isced, grade, name,"
                    " position) VALUES ('yy', 999, 'X', 'x', 1, 1, '{}', 0)"
                )
            )
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql+nodriver://them:s3cret@db/imaginecole", "is not a database URL this app"),
        ("not a url at all", "is not a database URL this app"),
        (
            "postgresql+psycopg://them:s3cret@db/imaginecole",
            "pip install 'imaginecole[postgresql]'",
        ),
    ],
    ids=["unknown driver", "not a URL", "driver not installed"],
)
def test_a_database_url_the_app_cannot_use_is_one_clear_line(
    tmp_path, monkeypatch, capsys, url, message
):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as where the extra is not installed
    monkeypatch.setenv("IMAGINECOLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IMAGINECOLE_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["imaginecole", "settings"])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("Error: ") and message in error
    assert "Traceback" not in error and "s3cret" not in error


def test_a_shared_folder_holds_what_every_host_must_see(tmp_path):
    shared = tmp_path / "shared"
    first = make_app(tmp_path / "host-a", SHARED_DIR=str(shared))
    second = make_app(tmp_path / "host-b", SHARED_DIR=str(shared))

    load_content(first)

    blobs = [p for p in (shared / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 5  # the zz picture and its four variants
    assert not (tmp_path / "host-a" / "blobs").exists()
    # One session secret for every host: a session started through one is valid on the other.
    assert (shared / "secret_key").is_file()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    with second.app_context():
        assert signing_key_path() == shared / "keys" / "publisher.key"
        assert trust_file_path() == shared / "trust.toml"


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_proxy_count_that_is_not_one_stops_the_app_with_the_reason(tmp_path, value):
    with pytest.raises(SettingError, match="IMAGINECOLE_PROXIES .* how many proxies"):
        create_app({"DATA_DIR": str(tmp_path), "PROXIES": value})


def failed_login(app, **headers):
    return app.test_client().post(
        "/en/login",
        data={"email": "nobody@example.org", "password": "wrong password!"},
        headers={"Origin": "https://learn.example.org", **headers},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the proxy
    )


def test_behind_a_trusted_proxy_sign_in_sees_the_client_and_the_host_it_asked(tmp_path):
    forwarded = {
        "X-Forwarded-For": "203.0.113.7, 198.51.100.4",
        "X-Forwarded-Host": "learn.example.org",
    }
    direct = make_app(tmp_path / "direct")
    # Without the setting the browser's Origin is not the host the app sees: refused.
    assert failed_login(direct, **forwarded).status_code == 403

    proxied = make_app(tmp_path / "proxied", PROXIES=1)
    assert failed_login(proxied, **forwarded).status_code == 400  # wrong password, counted
    with proxied.app_context():
        # The address nginx saw, not nginx's own, nor one the client wrote before it.
        assert db.session.scalars(select(LoginFailure.address)).all() == ["198.51.100.4"]
