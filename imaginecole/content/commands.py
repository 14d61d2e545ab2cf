"""The ``imaginecole content …`` commands: check content folders and load them."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from imaginecole.commands import database_command
from imaginecole.content.models import Module
from imaginecole.content.operations import load_tree, max_video_bytes
from imaginecole.curation.operations import record_version
from imaginecole.curation.reloading import apply_choices, differences
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.search.indexing import sync_index
from sync.content import ContentTree, read_content
from sync.course import CourseOptions, read_course
from sync.problems import Problem


@click.group("content", help="Check and load curriculum and module files.")
def content_group() -> None:
    pass


def _content_dir(directory: Path | None) -> Path:
    """Return the content folder to read (the setting's by default); refuse one that is not there."""
    directory = directory or Path(current_app.config["CONTENT_DIR"])
    if not directory.is_dir():
        # Read as an empty folder it would load nothing and report "Nothing changed".
        raise click.ClickException(
            f"{directory}: no such content folder. Give the folder to read "
            "(or set IMAGINECOLE_CONTENT_DIR); nothing was loaded."
        )
    return directory


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        click.secho(f"  {problem}", fg="red", err=True)


@content_group.command("check", help="Report every problem in a content folder without loading it.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@with_appcontext
def content_check(directory: Path | None) -> None:
    tree = read_content(_content_dir(directory), max_video_bytes=max_video_bytes())
    lessons = sum(len(m.lessons) for m in tree.modules)
    click.echo(
        f"{len(tree.curricula)} countries, {len(tree.modules)} valid modules, {lessons} lessons"
    )
    if tree.problems:
        click.secho(f"{len(tree.problems)} problems:", fg="red", err=True)
        _print_problems(tree.problems)
        sys.exit(1)
    click.secho("No problems found.", fg="green")


TAKE_FILES_HELP = (
    "Take every field from the files, undoing what editors changed in the browser "
    "(by default their changes are kept)."
)


@content_group.command("load", help="Load (or update) curricula and modules into this instance.")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--country", "countries", multiple=True, help="Load only this country (repeatable).")
@click.option("--take-files", is_flag=True, help=TAKE_FILES_HELP)
@database_command
def content_load(directory: Path | None, countries: tuple[str, ...], take_files: bool) -> None:
    directory = _content_dir(directory)
    click.echo(f"Reading {directory} …")
    tree = read_content(directory, list(countries) or None, max_video_bytes=max_video_bytes())
    _load_and_report(tree, origin="files", reference=str(directory), take_files=take_files)


def _curated_lines(tree: ContentTree) -> list[str]:
    """Return, per module, the fields the files would change that editors changed here."""
    ids = [module.id for module in tree.modules]
    loaded = {m.uid: m for m in db.session.scalars(select(Module).where(Module.uid.in_(ids)))}
    lines = []
    for source in tree.modules:
        if source.id not in loaded or loaded[source.id].country_code != source.country:
            continue
        curated = [d for d in differences(loaded[source.id], source) if d.curated]
        if curated:
            names = ", ".join(f"{d.field} ({d.lang})" if d.lang else d.field for d in curated)
            lines.append(f"{source.id}: {names}")
    return lines


def _load_and_report(
    tree: ContentTree,
    auto_version: bool = False,
    *,
    origin: str,
    reference: str,
    take_files: bool = False,
) -> None:
    """Load ``tree``, commit, say what changed, and exit 1 after naming the modules left out.

    Fields editors changed in the browser are kept unless ``take_files``; every module
    written gets a version in its history naming ``origin`` and ``reference``.
    """
    curated = _curated_lines(tree)
    if curated:
        verb = "Taking from the files" if take_files else "Keeping"
        click.secho(f"{verb} what editors changed in the browser:", fg="yellow")
        for line in curated:
            click.echo(f"  {line}")
    tree = dataclasses.replace(
        tree,
        modules=apply_choices(
            tree.modules, {}, auto_version=auto_version, default="file" if take_files else "keep"
        ),
    )
    with click.progressbar(length=len(tree.modules), label="Loading modules", show_pos=True) as bar:
        report = load_tree(
            tree, progress=lambda _module_id: bar.update(1), auto_version=auto_version
        )
    for module in db.session.scalars(select(Module).where(Module.uid.in_(report.written))):
        record_version(module, origin, reference=reference)
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
@click.option(
    "--competency",
    "competencies",
    multiple=True,
    help="Code of a competency every module teaches (repeatable); the subject page groups "
    "the course's modules under it.",
)
@click.option(
    "--dry-run", is_flag=True, help="Report what would be published, and write nothing."
)
@click.option("--take-files", is_flag=True, help=TAKE_FILES_HELP)
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
    competencies: tuple[str, ...],
    dry_run: bool,
    take_files: bool,
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
        competencies=list(competencies),
    )
    tree = read_course(directory, curriculum, options)
    click.echo(
        f"Read {directory}: {len(tree.modules)} modules, {sum(len(m.lessons) for m in tree.modules)} lessons."
    )
    for problem in tree.skipped:
        click.secho(f"  skipped: {problem}", fg="yellow", err=True)
    for problem in tree.undescribed:
        click.secho(f"  no description: {problem}", fg="yellow", err=True)
    if dry_run:
        _dry_run_report(tree, take_files=take_files)
        return
    _load_and_report(
        tree, auto_version=True, origin="import", reference=str(directory), take_files=take_files
    )


def _dry_run_report(tree: ContentTree, *, take_files: bool) -> None:
    """Say what importing ``tree`` would publish, module by module, and write nothing."""
    ids = [module.id for module in tree.modules]
    loaded = {m.uid: m for m in db.session.scalars(select(Module).where(Module.uid.in_(ids)))}
    merged = apply_choices(
        tree.modules, {}, auto_version=True, default="file" if take_files else "keep"
    )
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    for source in merged:
        existing = loaded.get(source.id)
        if existing is None:
            state = "new"
        elif existing.fingerprint == source.fingerprint():
            state = "unchanged"
        else:
            state = "changed"
        counts[state] += 1
        title = source.title.get(source.language) or next(iter(source.title.values()), "")
        click.echo(f"  {state:9} {source.id}  {title}  ({len(source.lessons)} lessons)")
    for line in _curated_lines(tree):
        verb = "would take from the files" if take_files else "would keep"
        click.echo(f"  {verb} what editors changed: {line}")
    click.echo(
        f"Dry run: {counts['new']} modules would be added, {counts['changed']} updated, "
        f"{counts['unchanged']} unchanged. Nothing was written."
    )
    db.session.rollback()
