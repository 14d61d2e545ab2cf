"""The ``imaginecole content …`` commands: check content folders and load them."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from imaginecole.commands import database_command
from imaginecole.content.operations import load_tree, max_video_bytes
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.search.indexing import sync_index
from sync.content import ContentTree, read_content
from sync.course import CourseOptions, read_course
from sync.problems import Problem


@click.group("content", help="Check and load curriculum and module files.")
def content_group() -> None:
    pass


def _default_content_dir() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        click.secho(f"  {problem}", fg="red", err=True)


@content_group.command("check", help="Report every problem in a content folder without loading it.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@with_appcontext
def content_check(directory: Path | None) -> None:
    tree = read_content(directory or _default_content_dir(), max_video_bytes=max_video_bytes())
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
@database_command
def content_load(directory: Path | None, countries: tuple[str, ...]) -> None:
    directory = directory or _default_content_dir()
    click.echo(f"Reading {directory} …")
    tree = read_content(
        directory, list(countries) or None, max_video_bytes=max_video_bytes()
    )
    _load_and_report(tree)


def _load_and_report(tree: ContentTree, auto_version: bool = False) -> None:
    """Load ``tree``, commit, say what changed, and exit 1 after naming the modules left out."""
    with click.progressbar(length=len(tree.modules), label="Loading modules", show_pos=True) as bar:
        report = load_tree(
            tree, progress=lambda _module_id: bar.update(1), auto_version=auto_version
        )
    db.session.commit()
    if report.changed:
        sync_index()  # after the commit: the index follows the database
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
@database_command
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
