"""The ``imaginecole`` command: every domain's commands, and those that belong to none.

Each command only parses options and calls library code. ``imaginecole --help`` lists the
commands by where they are run, as ``SECTIONS`` says.
"""

from __future__ import annotations

from collections.abc import Iterable

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError

from imaginecole import schema, translations_tools
from imaginecole.accounts.commands import users_group
from imaginecole.backups.commands import backup_command, restore_command
from imaginecole.bundles.commands import bundle_group, keys_group, trust_group
from imaginecole.commands import database_command, unreachable_database
from imaginecole.config import SETTINGS, without_password
from imaginecole.content.commands import content_group, content_load
from imaginecole.coverage.commands import report_group
from imaginecole.curation.commands import module_group
from imaginecole.datadir import ImportBusy
from imaginecole.exports.commands import export_group
from imaginecole.maintenance.commands import check_command
from imaginecole.maintenance.operations import rerender_lessons
from imaginecole.review.commands import submissions_enroll, submissions_import
from imaginecole.search.commands import search_group
from imaginecole.serving import ServingError, plan, prepare
from imaginecole.serving import serve as run_server
from imaginecole.submissions.commands import submissions_export, submissions_key

# Where each command is run. A group stands for all its commands; a group whose commands are
# run in different places is listed command by command.
SECTIONS = (
    (
        "School server",
        ("bundle import", "bundle remove", "trust", "submissions key", "submissions export"),
    ),
    (
        "National server",
        (
            "content",
            "module",
            "bundle build",
            "keys",
            "submissions enroll",
            "submissions import",
            "report",
        ),
    ),
    (
        "Both",
        (
            "serve",
            "bundle list",
            "users",
            "search",
            "db upgrade",
            "db current",
            "db check",
            "db init",
            "backup",
            "restore",
            "check",
            "export",
            "settings",
        ),
    ),
    ("Development", ("demo", "db migrate", "translations")),
)
# Flask's own commands stay callable but are not listed: a server is run with ``serve``.
FLASK_COMMANDS = ("run", "shell", "routes")


class ImaginecoleGroup(FlaskGroup):
    """Flask's command group, with Imaginecole's version and the commands listed by use."""

    def __init__(self, **extra) -> None:
        super().__init__(
            add_version_option=False,
            help="Imaginecole: curriculum-aligned lessons that work offline.",
            **extra,
        )
        # Flask's own --version prints the versions of Python, Flask and Werkzeug.
        click.version_option(
            package_name="imaginecole", prog_name="Imaginecole", message="%(prog)s %(version)s"
        )(self)
        # Found without making the app of this machine's settings: exporting from a bundle
        # makes a throwaway app of its own, on a laptop that may have no settings at all.
        self.add_command(export_group)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections = [(heading, self.listed(ctx, paths)) for heading, paths in SECTIONS]
        in_sections = {path.split()[0] for _heading, paths in SECTIONS for path in paths}
        others = [
            name
            for name in self.list_commands(ctx)
            if name not in in_sections and name not in FLASK_COMMANDS
        ]
        sections.append(("Other commands", self.listed(ctx, others)))
        # One column of names through every section; the help texts get the room left, as in click.
        width = max(len(path) for _heading, rows in sections for path, _command in rows)
        limit = formatter.width - 6 - width
        for heading, rows in sections:
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(
                        [(path.ljust(width), cmd.get_short_help_str(limit)) for path, cmd in rows]
                    )

    def listed(self, ctx: click.Context, paths: Iterable[str]) -> list[tuple[str, click.Command]]:
        """Return each path that names a command to show, with that command."""
        found = [(path, find_command(self, ctx, path)) for path in paths]
        return [(path, command) for path, command in found if command and not command.hidden]


def find_command(group: click.Group, ctx: click.Context, path: str) -> click.Command | None:
    """Return the command a path such as ``bundle import`` names in ``group``, or None."""
    command: click.Command | None = group
    for name in path.split():
        if not isinstance(command, click.Group):
            return None
        command = command.get_command(ctx, name)
    return command


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


@click.group("db", help="Manage the database.")
def db_group() -> None:
    pass


@db_group.command(
    "upgrade", help="Upgrade the database to this version's schema, keeping every row."
)
@database_command
def db_upgrade() -> None:
    app = current_app._get_current_object()
    try:
        rerendered = rerender_lessons()
    except ImportBusy as error:
        raise click.ClickException(f"{error} Lessons were not rendered again.") from None
    if rerendered:
        click.echo(f"{rerendered} lesson text(s) rendered by an older version were rendered again.")
    click.echo(f"Database ready: {schema.where(app)} (revision {schema.database_state(app).head})")


@db_group.command("init", help="The same as `db upgrade` (the name older scripts use).")
@click.pass_context
def db_init(ctx: click.Context) -> None:
    ctx.invoke(db_upgrade)


@db_group.command(
    "current", help="Show the database's schema revision and whether it is the newest."
)
@with_appcontext
def db_current() -> None:
    app = current_app._get_current_object()
    click.echo(f"{schema.where(app)}: {schema.database_state(app).describe()}")


@db_group.command(
    "check", help="Compare the models with the database's tables; exit 1 when they differ."
)
@with_appcontext
def db_check() -> None:
    app = current_app._get_current_object()
    state = schema.database_state(app)
    if not state.current:
        raise click.ClickException(state.describe())
    differences = schema.model_differences(app)
    if differences:
        raise click.ClickException(
            "The models differ from the tables the migrations made:\n  "
            + "\n  ".join(differences)
            + "\nWrite a migration for them: imaginecole db migrate -m 'What changed'"
        )
    click.echo(f"The models and the migrations agree (revision {state.head}).")


@db_group.command("migrate", help="Write a migration from the models' changes (for developers).")
@click.option("-m", "--message", required=True, help="What the migration changes, in a few words.")
@database_command
def db_migrate(message: str) -> None:
    path = schema.write_migration(current_app._get_current_object(), message)
    if path is None:
        click.echo("The models and the migrations agree: no migration written.")
    else:
        click.echo(f"Wrote {path}; read it and adjust it before committing.")


@click.group("translations", help="Extract, update and compile the interface translations.")
def translations_group() -> None:
    pass


@translations_group.command(
    "extract", help="Collect translatable strings into translations/messages.pot."
)
def translations_extract() -> None:
    translations_tools.extract()


@translations_group.command(
    "update", help="Merge new strings from messages.pot into each language's catalog."
)
def translations_update() -> None:
    translations_tools.update()


@translations_group.command("compile", help="Compile the catalogs into .mo files.")
def translations_compile() -> None:
    translations_tools.compile_all()


@click.command(
    "serve",
    help="Serve the app with a production server: one worker process per CPU (granian), "
    "or waitress on Windows.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for the whole LAN).",
)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Worker processes (default: the SERVER_WORKERS setting).",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(min=1),
    help="Threads per worker (default: the SERVER_THREADS setting).",
)
@with_appcontext
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    app = current_app._get_current_object()
    try:
        how = plan(app, host, port, workers, threads)
    except ServingError as error:
        raise click.ClickException(str(error)) from None
    try:
        prepare(app)
    except schema.SchemaError as error:
        raise click.ClickException(str(error)) from error
    except OperationalError as error:
        raise unreachable_database(error) from None
    click.echo(f"Serving on http://{host}:{port}/ with {how.describe()} (Ctrl+C to stop)")
    run_server(app, how)


@click.command("demo", help="Load the sample content and serve it on http://127.0.0.1:5000/.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def demo(ctx: click.Context, port: int) -> None:
    ctx.invoke(content_load, directory=None, countries=())
    ctx.invoke(serve, host="127.0.0.1", port=port)


@click.command("settings", help="List every setting with its current value and what it is for.")
@with_appcontext
def settings() -> None:
    for setting in SETTINGS:
        value = current_app.config.get(setting.name)
        if setting.name == "SECRET_KEY" and value:
            value = "(set)"
        elif setting.name == "DATABASE_URL" and value:
            value = without_password(value)
        click.echo(f"IMAGINECOLE_{setting.name} = {value!r}\n    {setting.help}")


# A school server makes its package and its enrolment entry; the national server enrols the
# school and merges the package: one group, so that both sides speak of "submissions".
submissions_group = click.Group(
    "submissions",
    help="Carry teachers' submissions from school servers to the national server.",
    commands=[submissions_key, submissions_export, submissions_import, submissions_enroll],
)

COMMANDS = (
    db_group,
    content_group,
    module_group,
    translations_group,
    search_group,
    users_group,
    bundle_group,
    keys_group,
    trust_group,
    submissions_group,
    report_group,
    serve,
    backup_command,
    restore_command,
    check_command,
    export_group,
    demo,
    settings,
)
