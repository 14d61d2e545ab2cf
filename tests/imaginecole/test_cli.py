"""The ``imaginecole`` command: its help by where commands run, its version, settings, serve."""

from __future__ import annotations

import configparser
import re
from importlib import metadata

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from imaginecole import __main__ as entry
from imaginecole.app import create_app
from imaginecole.cli import FLASK_COMMANDS, SECTIONS, find_command
from imaginecole.config import SETTINGS
from tests.conftest import REPO_ROOT, database_env, make_app, on_postgresql

HEADINGS = ["School server", "National server", "Both", "Development"]


def imaginecole(data_dir, *args: str):
    """Run the installed command's group, as a person would, on ``data_dir``."""
    return CliRunner().invoke(
        entry.cli, list(args), prog_name="imaginecole", env=database_env(data_dir)
    )


def help_sections(output: str) -> dict[str, list[str]]:
    """Return the command names listed under each heading of a help text."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = sections.setdefault(line[:-1], [])
        elif current is not None and line.startswith("  "):
            current.append(re.split(r"\s{2,}", line.strip())[0])
    return sections


def leaf_commands(group: click.Group, ctx: click.Context, prefix: str = "") -> list[str]:
    """Return every command a person can run, as ``group command`` paths."""
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += leaf_commands(command, ctx, f"{prefix}{name} ")
        else:
            paths.append(f"{prefix}{name}")
    return paths


# ---------------------------------------------------------------------------- help and version


def test_help_lists_the_commands_under_where_they_are_run(tmp_path):
    result = imaginecole(tmp_path, "--help")

    assert result.exit_code == 0, result.output
    sections = help_sections(result.output)
    assert [heading for heading in sections if heading in HEADINGS] == HEADINGS
    assert sections["School server"] == [
        "bundle import", "bundle remove", "trust", "submissions key", "submissions export",
    ]  # fmt: skip
    assert "bundle build" in sections["National server"]
    assert "keys" in sections["National server"]
    assert "content" in sections["National server"]
    assert "users" in sections["Both"] and "serve" in sections["Both"]
    assert "Other commands" not in sections
    assert "Build and sign the next bundle of a country" in result.output


def test_every_command_is_under_exactly_one_heading(app):
    ctx = click.Context(app.cli)
    listed = [path for _heading, paths in SECTIONS for path in paths]
    for path in listed:
        assert find_command(app.cli, ctx, path) is not None, path
    for leaf in leaf_commands(app.cli, ctx):
        if leaf in FLASK_COMMANDS:
            continue
        covering = [path for path in listed if leaf == path or leaf.startswith(f"{path} ")]
        assert len(covering) == 1, (leaf, covering)


def test_flasks_own_commands_are_not_listed_but_still_run(tmp_path):
    listing = imaginecole(tmp_path, "--help").output
    names = {name for names in help_sections(listing).values() for name in names}

    assert not names & set(FLASK_COMMANDS)
    assert "routes" not in listing and "shell" not in listing and " run " not in listing
    routes = imaginecole(tmp_path, "routes")
    assert routes.exit_code == 0, routes.output
    assert "catalog." in routes.output


def test_version_is_imaginecoles(tmp_path):
    result = imaginecole(tmp_path, "--version")

    assert result.exit_code == 0, result.output
    assert result.output == f"Imaginecole {metadata.version('imaginecole')}\n"
    assert "Flask" not in result.output and "Python" not in result.output


def test_the_console_script_runs_main():
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    scripts = dict(
        line.split(" = ")
        for line in config["options.entry_points"]["console_scripts"].strip().splitlines()
    )
    module, function = scripts["imaginecole"].split(":")

    assert (module, function) == (entry.__name__, entry.main.__name__)


def test_the_readme_table_names_every_command(app):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Everyday commands", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `imaginecole ")]
    ctx = click.Context(app.cli)
    for leaf in leaf_commands(app.cli, ctx):
        if leaf in FLASK_COMMANDS:
            continue
        first, _, rest = leaf.partition(" ")
        documented = [row for row in rows if re.match(rf"\| `imaginecole {first}\b", row)]
        assert any(rest in row for row in documented), f"imaginecole {leaf} is not in the README"


# ---------------------------------------------------------------------------- settings and serve


def test_the_settings_command_lists_and_explains_every_setting(runner, app):
    result = runner.invoke(args=["settings"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for setting in SETTINGS:
        [index] = [
            i for i, line in enumerate(lines) if line.startswith(f"IMAGINECOLE_{setting.name} = ")
        ]
        assert lines[index + 1].strip() == setting.help
    assert f"IMAGINECOLE_DATA_DIR = {app.config['DATA_DIR']!r}" in lines


def test_the_secret_key_is_never_printed(tmp_path):
    app = make_app(tmp_path / "data", SECRET_KEY="do-not-show-me-1234")

    output = app.test_cli_runner().invoke(args=["settings"]).output

    assert "do-not-show-me-1234" not in output
    assert "IMAGINECOLE_SECRET_KEY = '(set)'" in output


def test_serve_refuses_a_number_of_workers_below_one(tmp_path):
    app = make_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["serve", "--workers", "0"])
    assert result.exit_code != 0
    assert "--workers" in result.output


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_that_does_not_exist_without_a_traceback(tmp_path, port):
    app = make_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["serve", "--port", port])
    assert result.exit_code == 2
    assert "--port" in result.output and "1<=x<=65535" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "setting, value", [("SERVER_WORKERS", "abc"), ("SERVER_WORKERS", -1), ("SERVER_THREADS", 0)]
)
def test_serve_names_a_bad_setting_without_a_traceback(tmp_path, setting, value):
    app = make_app(tmp_path, **{setting: value})
    result = app.test_cli_runner().invoke(args=["serve"])
    assert result.exit_code == 1
    assert f"The setting {setting} is {value!r}" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)


# ---------------------------------------------------------------------------- database secrets

PASSWORD_IN_URL = "s3cret-Pw-9"
# No server listens on a socket in a folder that does not exist: the connection always fails.
UNREACHABLE_URL = f"postgresql+psycopg://intruder:{PASSWORD_IN_URL}@/imaginecole?host=/nonexistent"


def app_on(tmp_path, url: str):
    """An app on the database ``url``, its schema not created (that would connect)."""
    return create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "DATABASE_URL": url})


def test_settings_show_the_database_url_without_its_password(tmp_path):
    url = f"postgresql+psycopg://imaginecole:{PASSWORD_IN_URL}@db.example.org:5433/imaginecole"

    output = app_on(tmp_path, url).test_cli_runner().invoke(args=["settings"]).output

    assert PASSWORD_IN_URL not in output
    expected = "postgresql+psycopg://imaginecole:***@db.example.org:5433/imaginecole"
    assert f"IMAGINECOLE_DATABASE_URL = {expected!r}" in output


@pytest.mark.parametrize("command", [["users", "list"], ["bundle", "list"], ["serve"]])
def test_an_unreachable_database_is_one_line_without_the_password(tmp_path, command):
    result = app_on(tmp_path, UNREACHABLE_URL).test_cli_runner().invoke(args=command)

    assert result.exit_code == 1
    assert "Error: The database cannot be reached: " in result.output
    assert "IMAGINECOLE_DATABASE_URL" in result.output
    assert PASSWORD_IN_URL not in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_a_page_on_an_unreachable_database_logs_no_password(tmp_path, caplog):
    client = app_on(tmp_path, UNREACHABLE_URL).test_client()

    response = client.get("/fr/zz/")

    assert response.status_code == 500
    assert "Unhandled error" in caplog.text
    assert PASSWORD_IN_URL not in caplog.text and PASSWORD_IN_URL not in response.text


def test_a_role_the_server_does_not_know_is_one_line_without_the_password(tmp_path):
    if not on_postgresql():
        pytest.skip("a database role exists on PostgreSQL only")
    url = make_url(database_env(tmp_path / "data")["IMAGINECOLE_DATABASE_URL"])
    wrong = url.set(username="nobody_here", password=PASSWORD_IN_URL)

    app = app_on(tmp_path, wrong.render_as_string(hide_password=False))
    result = app.test_cli_runner().invoke(args=["users", "list"])

    assert result.exit_code == 1
    assert 'role "nobody_here" does not exist' in result.output
    assert PASSWORD_IN_URL not in result.output and "Traceback" not in result.output
