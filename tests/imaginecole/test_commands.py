"""database_command: the schema ensured, one transaction committed or rolled back."""

from __future__ import annotations

import errno
import sys

import click
import pytest
from sqlalchemy import func, select

from imaginecole.app import create_app
from imaginecole.commands import database_command
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from tests.conftest import database_config


def add_country(code: str = "yy") -> None:
    db.session.add(
        Country(
            code=code,
            name={"fr": "Ypsiland"},
            languages=["fr"],
            framework_id="yy-test",
            framework_version="1",
            framework_title={"fr": "Programme"},
        )
    )
    db.session.flush()


@click.command("add-country")
@click.option(
    "--then",
    type=click.Choice(["end", "refuse", "exit", "fail", "disk-full", "duplicate", "too-long"]),
    default="end",
)
@database_command
def add_country_command(then: str) -> None:
    add_country()
    if then == "refuse":
        raise click.ClickException("Refused.")
    if then == "exit":
        sys.exit(1)
    if then == "fail":
        raise RuntimeError("a bug")
    if then == "disk-full":
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/data/blobs/ab")
    if then == "duplicate":
        add_country()  # the same code again: the database refuses it
    if then == "too-long":
        add_country("yyy")  # PostgreSQL would refuse it, SQLite store it


def countries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Country))


@pytest.mark.parametrize(
    "then, exit_code, kept",
    [
        ("end", 0, True),
        ("exit", 1, True),  # the command reported what it did, then chose its exit status
        ("refuse", 1, False),
        ("fail", 1, False),
    ],
)
def test_the_work_is_committed_unless_the_command_fails(app, then, exit_code, kept):
    result = app.test_cli_runner().invoke(add_country_command, ["--then", then])

    assert result.exit_code == exit_code, result.output
    assert countries(app) == (1 if kept else 0)
    if then == "refuse":
        assert "Error: Refused." in result.output
    if then == "fail":
        assert isinstance(result.exception, RuntimeError)


def test_the_tables_are_created_first_on_a_fresh_server(tmp_path):
    fresh = create_app(
        {
            "DATA_DIR": str(tmp_path / "fresh"),
            "TESTING": True,
            **database_config(tmp_path / "fresh", schema=False),
        }
    )

    result = fresh.test_cli_runner().invoke(add_country_command)

    assert result.exit_code == 0, repr(result.exception)
    assert countries(fresh) == 1


@pytest.mark.parametrize(
    "then, message",
    [
        ("disk-full", "A file could not be written or read: [Errno 28] No space left on device"),
        # SQLite: "UNIQUE constraint failed: country.code"; PostgreSQL names the constraint.
        ("duplicate", "The database refused the change: "),
        ("too-long", "The code of a country is 3 characters long; at most 2 fit."),
    ],
)
def test_a_disk_or_database_error_is_one_clear_line_and_changes_nothing(app, then, message):
    result = app.test_cli_runner().invoke(add_country_command, ["--then", then])

    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert "Nothing was changed." in result.output
    assert then != "duplicate" or "country" in result.output.lower()
    assert "INSERT" not in result.output  # no statement, so no parameters, are shown
    assert not isinstance(result.exception, OSError | RuntimeError)
    assert countries(app) == 0
