"""The ``imaginecole`` command. Each command only parses options and calls library code."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from imaginecole.config import SETTINGS


def main() -> None:
    from imaginecole.app import create_app

    cli = FlaskGroup(
        create_app=create_app, help="Imaginecole: curriculum-aligned lessons that work offline."
    )
    cli.main(prog_name="imaginecole")


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(content_group)
    app.cli.add_command(translations_group)
    app.cli.add_command(search_group)
    app.cli.add_command(users_group)
    app.cli.add_command(bundle_group)
    app.cli.add_command(submissions_group)
    from imaginecole.coverage.commands import report_group

    app.cli.add_command(report_group)
    app.cli.add_command(serve)
    app.cli.add_command(demo)
    app.cli.add_command(settings)


# ---------------------------------------------------------------------------- db


@click.group("db", help="Manage the database.")
def db_group() -> None:
    pass


@db_group.command("init", help="Create the database tables that are missing.")
@with_appcontext
def db_init() -> None:
    from imaginecole.models import ensure_schema

    ensure_schema(current_app)
    click.echo(f"Database ready in {current_app.config['DATA_DIR']}")


# ---------------------------------------------------------------------------- content


@click.group("content", help="Check and load curriculum and module files.")
def content_group() -> None:
    pass


def _default_content_dir() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


def _print_problems(problems) -> None:
    for problem in problems:
        click.secho(f"  {problem}", fg="red", err=True)


@content_group.command("check", help="Report every problem in a content folder without loading it.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@with_appcontext
def content_check(directory: Path | None) -> None:
    from sync.content import read_content

    tree = read_content(directory or _default_content_dir())
    lessons = sum(len(m.lessons) for m in tree.modules)
    click.echo(
        f"{len(tree.curricula)} countries, {len(tree.modules)} valid modules, {lessons} lessons"
    )
    if tree.problems:
        click.secho(f"{len(tree.problems)} problems:", fg="red", err=True)
        _print_problems(tree.problems)
        sys.exit(1)
    click.secho("No problems found.", fg="green")


@content_group.command("load", help="Load (or update) curricula and modules into this instance.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--country", "countries", multiple=True, help="Load only this country (repeatable).")
@with_appcontext
def content_load(directory: Path | None, countries: tuple[str, ...]) -> None:
    from imaginecole.models import ensure_schema
    from sync.content import read_content

    ensure_schema(current_app)
    directory = directory or _default_content_dir()
    click.echo(f"Reading {directory} …")
    tree = read_content(directory, list(countries) or None)
    _load_and_report(tree)


def _load_and_report(tree, fail_on_problems: bool = True, auto_version: bool = False) -> None:
    from imaginecole.content.operations import load_tree

    with click.progressbar(length=len(tree.modules), label="Loading modules", show_pos=True) as bar:
        report = load_tree(
            tree, progress=lambda _module_id: bar.update(1), auto_version=auto_version
        )
    click.echo(
        f"Countries: {report.countries_added} added, {report.countries_updated} updated, "
        f"{report.countries_unchanged} unchanged."
    )
    click.echo(
        f"Modules: {report.modules_added} added, {report.modules_updated} updated, "
        f"{report.modules_unchanged} unchanged; {report.lessons_loaded} lessons loaded."
    )
    for note in report.notes:
        click.secho(f"  note: {note}", fg="yellow")
    if not report.changed:
        click.echo("Nothing changed: everything was already loaded.")
    if report.problems:
        click.secho(
            f"{len(report.problems)} problems (the modules concerned were not loaded):",
            fg="red",
            err=True,
        )
        _print_problems(report.problems)
        if fail_on_problems:
            sys.exit(1)


@content_group.command(
    "import-course", help="Turn a Markdown course folder (MkDocs style) into modules and load them."
)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--country", required=True, help="Country code, e.g. fr.")
@click.option(
    "--level", "levels", required=True, multiple=True, help="Level code, e.g. Tle (repeatable)."
)
@click.option("--subject", required=True, help="Subject slug, e.g. nsi.")
@click.option(
    "--licence", default="CC-BY-SA-4.0", show_default=True, help="SPDX id of the course's licence."
)
@click.option(
    "--author",
    "authors",
    multiple=True,
    help="Author name (repeatable); read from ATTRIBUTION.md when absent.",
)
@click.option(
    "--attribution", default="", help="Credit line; read from ATTRIBUTION.md when absent."
)
@click.option(
    "--id-prefix", default="", help="Prefix of the module ids (default: country and folder name)."
)
@with_appcontext
def content_import_course(
    directory: Path,
    country: str,
    levels: tuple[str, ...],
    subject: str,
    licence: str,
    authors: tuple[str, ...],
    attribution: str,
    id_prefix: str,
) -> None:
    from imaginecole.curriculum.queries import curriculum_of
    from imaginecole.models import ensure_schema
    from sync.course import CourseOptions, read_course

    ensure_schema(current_app)
    curriculum = curriculum_of(country)
    if curriculum is None:
        raise click.ClickException(
            f'Country "{country}" is not loaded; run "imaginecole content load" first.'
        )
    options = CourseOptions(
        country=country,
        levels=list(levels),
        subject=subject,
        licence=licence,
        authors=list(authors),
        attribution=attribution,
        id_prefix=id_prefix,
    )
    tree = read_course(directory, curriculum, options)
    click.echo(
        f"Read {directory}: {len(tree.modules)} modules, {sum(len(m.lessons) for m in tree.modules)} lessons."
    )
    for problem in tree.skipped:
        click.secho(f"  skipped: {problem}", fg="yellow", err=True)
    _load_and_report(tree, auto_version=True)


# ---------------------------------------------------------------------------- translations


@click.group("translations", help="Extract, update and compile the interface translations.")
def translations_group() -> None:
    pass


@translations_group.command(
    "extract", help="Collect translatable strings into translations/messages.pot."
)
def translations_extract() -> None:
    from imaginecole import translations_tools

    translations_tools.extract()


@translations_group.command(
    "update", help="Merge new strings from messages.pot into each language's catalog."
)
def translations_update() -> None:
    from imaginecole import translations_tools

    translations_tools.update()


@translations_group.command("compile", help="Compile the catalogs into .mo files.")
def translations_compile() -> None:
    from imaginecole import translations_tools

    translations_tools.compile_all()


# ---------------------------------------------------------------------------- bundles


@click.group("bundle", help="Build, import and list signed content bundles.")
def bundle_group() -> None:
    pass


def _bytes_progress(label: str):
    """Return (progress bar, callback) showing bytes and the time left."""
    state = {"bar": None}

    def update(done: int, total: int) -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = click.progressbar(
                length=max(total, 1), label=label, show_eta=True, file=sys.stderr
            )
            bar.__enter__()
        bar.update(done - bar.pos)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)

    return update, close


@bundle_group.command(
    "build", help="Build and sign the next bundle of a country (full, or a delta with --since)."
)
@click.option("--country", required=True)
@click.option(
    "--since", type=int, default=None, help="Version of a bundle built here: build a delta from it."
)
@click.option("--channel", default="main", show_default=True)
@click.option(
    "--level", "levels", multiple=True, help="Only modules of this level code (repeatable)."
)
@click.option(
    "--subject", "subjects", multiple=True, help="Only modules of this subject slug (repeatable)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the bundle.",
)
@with_appcontext
def bundle_build(country, since, channel, levels, subjects, out_dir) -> None:
    from imaginecole.bundles.operations import build_country_bundle
    from imaginecole.models import ensure_schema
    from sync.bundle import BundleError

    ensure_schema(current_app)
    update, close = _bytes_progress("Building")
    try:
        built = build_country_bundle(
            country, since=since, channel=channel, levels=list(levels) or None,
            subjects=list(subjects) or None, out_dir=out_dir, progress=update,
        )  # fmt: skip
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    finally:
        close()
    kind = f"delta from v{built.base_version}" if built.base_version else "full"
    click.echo(
        f"Built {built.path}: {country} {channel} v{built.version} ({kind}), {built.module_count} modules, {built.size / 1e6:.1f} MB, key {built.publisher_key_id}"
    )


@bundle_group.command(
    "import", help="Check a bundle and install it; nothing changes if it is refused."
)
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def bundle_import(path: Path) -> None:
    from imaginecole.bundles.operations import import_bundle
    from imaginecole.models import ensure_schema
    from sync.bundle import BundleError

    ensure_schema(current_app)
    update, close = _bytes_progress("Copying")
    try:
        report = import_bundle(path, progress=update)
    except BundleError as error:
        raise click.ClickException(f"Bundle refused, nothing was changed: {error}") from None
    finally:
        close()
    if report.noop:
        click.echo(
            f"{report.country} {report.channel} v{report.version} is already installed: nothing to do."
        )
        return
    click.echo(
        f"Installed {report.country} {report.channel} v{report.version}: {report.modules_applied} modules applied, "
        f"{report.modules_removed} removed; {report.blobs_copied} files copied ({report.bytes_copied / 1e6:.1f} MB), "
        f"{report.blobs_reused} already present."
    )


@bundle_group.command("list", help="List the bundles installed here and those built here.")
@with_appcontext
def bundle_list() -> None:
    from imaginecole.bundles.operations import built_bundles, installed_bundles
    from imaginecole.models import ensure_schema

    ensure_schema(current_app)
    installed, built = installed_bundles(), built_bundles()
    click.echo("Installed:" if installed else "Installed: none")
    for row in installed:
        click.echo(
            f"  {row.country_code} {row.channel} v{row.version} (created {row.created}, key {row.publisher_key_id}, "
            f"installed {row.installed_at:%Y-%m-%d %H:%M}): {row.module_count} modules, {row.removed_count} removed"
        )
    click.echo("Built:" if built else "Built: none")
    for row in built:
        kind = f"delta from v{row.base_version}" if row.base_version else "full"
        click.echo(
            f"  {row.country_code} {row.channel} v{row.version} ({kind}) {row.path} {row.size / 1e6:.1f} MB"
        )


@bundle_group.command("remove", help="Remove the content a channel's bundles installed.")
@click.option("--country", required=True)
@click.option("--channel", default="main", show_default=True)
@click.confirmation_option(prompt="Remove every module this channel installed?")
@with_appcontext
def bundle_remove(country: str, channel: str) -> None:
    from imaginecole.bundles.operations import remove_channel
    from imaginecole.models import ensure_schema
    from sync.bundle import BundleError

    ensure_schema(current_app)
    try:
        count = remove_channel(country, channel)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Removed {count} modules of {country} ({channel}).")


# ---------------------------------------------------------------------------- submissions


@click.group(
    "submissions", help="Carry teachers' submissions from school servers to the national server."
)
def submissions_group() -> None:
    pass


@submissions_group.command(
    "key", help="Print this school server's enrolment entry for the national team."
)
@click.option("--country", required=True, help="Country code of this school.")
@click.option(
    "--name", required=True, help="Name of this school, as the national team will see it."
)
@with_appcontext
def submissions_key(country: str, name: str) -> None:
    from imaginecole.submissions.outbox import enrolment_entry

    click.echo(enrolment_entry(country, name), nl=False)


@submissions_group.command(
    "export", help="Write the submissions waiting to be sent as a signed package."
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--country", default=None, help="Country whose submissions to export (default: the only one)."
)
@with_appcontext
def submissions_export(out_path: Path, country: str | None) -> None:
    from imaginecole.models import ensure_schema
    from imaginecole.submissions.outbox import countries_with_pending, export_package
    from sync.bundle import BundleError

    ensure_schema(current_app)
    countries = [country] if country else countries_with_pending()
    if not countries:
        click.echo("Nothing to export: every submission has reached the national server.")
        return
    if len(countries) > 1:
        raise click.ClickException(
            f"Submissions of several countries wait ({', '.join(countries)}); choose one with --country."
        )
    try:
        report = export_package(countries[0], out_path)
    except (BundleError, OSError) as error:
        raise click.ClickException(f"The package could not be written: {error}") from None
    if report.path is None:
        click.echo("Nothing to export: every submission has reached the national server.")
        return
    click.echo(
        f"Wrote {report.path}: {report.submissions} submissions, {report.revisions} revisions, "
        f"{report.withdrawals} withdrawals. Carry it to the national team; it is sent again until they confirm."
    )


@submissions_group.command("import", help="Merge a school's submission package (national server).")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def submissions_import(path: Path) -> None:
    from imaginecole.models import ensure_schema
    from imaginecole.review.operations import import_package
    from sync.bundle import BundleError

    ensure_schema(current_app)
    try:
        report = import_package(path)
    except BundleError as error:
        raise click.ClickException(f"Package refused, nothing was changed: {error}") from None
    prefix = "Already received before; " if report.already_received else ""
    click.echo(f"{prefix}{report.school_name} ({report.country}): {report.result.describe()}.")
    for decision in report.result.decisions:
        click.echo(f"  {decision.submission_uid[:12]}: {decision.message}")


@submissions_group.command(
    "enroll", help="Enrol school servers from their enrolment entries (TOML)."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def submissions_enroll(path: Path) -> None:
    from imaginecole.models import ensure_schema
    from imaginecole.review.operations import enroll_schools
    from sync.bundle import BundleError

    ensure_schema(current_app)
    try:
        rows = enroll_schools(path.read_text(encoding="utf-8"))
    except (BundleError, ValueError) as error:
        raise click.ClickException(f"Enrolment file refused: {error}") from None
    for row in rows:
        click.echo(f"Enrolled {row.name} ({row.country_code}), key {row.key_id}")


# ---------------------------------------------------------------------------- users


@click.group("users", help="Manage the accounts of teachers, editors and admins.")
def users_group() -> None:
    pass


def _account_call(function, *args):
    from imaginecole.accounts.operations import AccountError

    try:
        return function(*args)
    except AccountError as error:
        raise click.ClickException(str(error)) from None


@users_group.command("create", help="Create an account (the password is asked twice, not echoed).")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "editor", "teacher"]))
@click.option("--country", default=None, help="Country code; required for editors and teachers.")
@click.option("--school", default="", help="School name, for teachers.")
@click.password_option(help="Password (at least 10 characters).")
@with_appcontext
def users_create(
    email: str, name: str, role: str, country: str | None, school: str, password: str
) -> None:
    from imaginecole.accounts.operations import create_user
    from imaginecole.models import ensure_schema

    ensure_schema(current_app)
    user = _account_call(create_user, email, name, password, role, country, school)
    click.echo(
        f"Created {user.role} {user.email}"
        + (f" for {user.country_code}" if user.country_code else "")
    )


@users_group.command("set-role", help="Change the role (and country) of an account.")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "editor", "teacher"]))
@click.option("--country", default=None)
@with_appcontext
def users_set_role(email: str, role: str, country: str | None) -> None:
    from imaginecole.accounts.operations import set_role

    user = _account_call(set_role, email, role, country)
    click.echo(
        f"{user.email} is now {user.role}"
        + (f" for {user.country_code}" if user.country_code else "")
    )


@users_group.command("disable", help="Disable an account; its sessions end at once.")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@with_appcontext
def users_disable(email: str, enable: bool) -> None:
    from imaginecole.accounts.operations import set_disabled

    user = _account_call(set_disabled, email, not enable)
    click.echo(f"{user.email} is {'enabled' if enable else 'disabled'}")


@users_group.command("list", help="List the accounts.")
@with_appcontext
def users_list() -> None:
    from imaginecole.accounts.models import User
    from imaginecole.extensions import db

    for user in db.session.scalars(db.select(User).order_by(User.email)):
        state = " (disabled)" if user.disabled else ""
        click.echo(f"{user.email}\t{user.role}\t{user.country_code or '*'}\t{user.name}{state}")


# ---------------------------------------------------------------------------- search


@click.group("search", help="Maintain the search index.")
def search_group() -> None:
    pass


@search_group.command("reindex", help="Rebuild the search index from the database.")
@with_appcontext
def search_reindex() -> None:
    from sqlalchemy import func, select

    from imaginecole.content.models import Module
    from imaginecole.extensions import db
    from imaginecole.models import ensure_schema
    from imaginecole.search.indexing import rebuild_index

    ensure_schema(current_app)
    total = db.session.scalar(select(func.count(Module.id)).where(Module.published.is_(True)))
    with click.progressbar(
        length=total, label="Indexing modules", show_pos=True, show_eta=True
    ) as bar:
        count = rebuild_index(progress=lambda done: bar.update(done - bar.pos))
    click.echo(f"Search index rebuilt: {count} modules.")


# ---------------------------------------------------------------------------- serving


@click.command(
    "serve",
    help="Serve the app with a production server: one worker process per CPU (gunicorn), "
    "or waitress on Windows.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for the whole LAN).",
)
@click.option("--port", default=5000, show_default=True, type=int)
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
    from imaginecole.serving import ServingError, plan, prepare
    from imaginecole.serving import serve as run_server

    app = current_app._get_current_object()
    try:
        how = plan(app, host, port, workers, threads)
    except ServingError as error:
        raise click.ClickException(str(error)) from None
    prepare(app)
    click.echo(f"Serving on http://{host}:{port}/ with {how.describe()} (Ctrl+C to stop)")
    run_server(app, how)


@click.command("demo", help="Load the sample content and serve it on http://127.0.0.1:5000/.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def demo(ctx: click.Context, port: int) -> None:
    ctx.invoke(content_load, directory=None, countries=())
    ctx.invoke(serve, host="127.0.0.1", port=port)


@click.command("settings", help="List every setting with its current value and what it is for.")
@with_appcontext
def settings() -> None:
    for setting in SETTINGS:
        value = current_app.config.get(setting.name)
        shown = "(set)" if setting.name == "SECRET_KEY" and value else value
        click.echo(f"IMAGINECOLE_{setting.name} = {shown!r}\n    {setting.help}")
