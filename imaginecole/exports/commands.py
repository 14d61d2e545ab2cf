"""The ``imaginecole export …`` commands: a country's content for schools with no server.

Each chooses the selection, then calls the export function with an output path and a
progress printer, in the app of this server's database or of a throwaway instance holding
signed bundles (``--bundle``, on any computer).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo

from imaginecole.commands import check_database
from imaginecole.exports.booklets import plan_booklets, write_booklets
from imaginecole.exports.from_bundle import BundleSourceError, bundle_app
from imaginecole.exports.pages import Progress
from imaginecole.exports.selection import ExportError, Selection, choose
from imaginecole.exports.site import SiteReport, export_site
from imaginecole.exports.zim import ZimReport, export_zim

R = TypeVar("R")


@click.group(
    "export",
    help="Write a country's content for schools with no server (a ZIM file, a static site, "
    "printable booklets), from this server's database or from signed bundles (--bundle).",
)
def export_group() -> None:
    pass


def selection_options(command: Callable) -> Callable:
    """Add the options that choose what to export: a country, then optional filters."""
    options = [
        click.option("--country", required=True, help="Country code, such as sn."),
        click.option(
            "--level", "levels", multiple=True, help="Only this class (code or slug; repeatable)."
        ),
        click.option(
            "--subject", "subjects", multiple=True, help="Only this subject (slug; repeatable)."
        ),
        click.option(
            "--language",
            "languages",
            multiple=True,
            help="Language to export in (fr, en or ar); the country's first by default. "
            "Booklets take several.",
        ),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def source_options(command: Callable) -> Callable:
    """Add the options that export from signed bundles instead of this server's database."""
    options = [
        click.option(
            "--bundle",
            "bundles",
            multiple=True,
            type=click.Path(path_type=Path),
            help="Export from this bundle (or every bundle in this folder) with no server: a "
            "full bundle, then the updates after it (repeatable).",
        ),
        click.option(
            "--trust",
            type=click.Path(dir_okay=False, path_type=Path),
            help="A trust file (trust.toml) the bundles' signer must be in; without it, the "
            "signer's fingerprint is shown to compare by phone.",
        ),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def say(message: str) -> None:
    click.echo(message, err=True)


@contextmanager
def export_source(bundles: tuple[Path, ...], trust: Path | None) -> Iterator[Flask]:
    """Run an export in an app context: on the bundles given, or on this server's database."""
    if trust and not bundles:
        raise click.UsageError("--trust checks bundles: give them with --bundle.")
    info = click.get_current_context().ensure_object(ScriptInfo)
    try:
        if bundles:
            with bundle_app(bundles, trust, info.create_app, say) as app, app.app_context():
                yield app
            return
        app = current_app._get_current_object() if current_app else info.load_app()
        with app.app_context():
            check_database(app)
            yield app
    except (BundleSourceError, ExportError) as error:
        raise click.ClickException(str(error)) from None


def one_language(languages: tuple[str, ...], what: str) -> str | None:
    """Return the language of a ZIM file or a site (None: the country's first); they hold one."""
    if len(set(languages)) > 1:
        raise click.UsageError(f"{what} holds one language: give --language once.")
    return languages[0] if languages else None


def stderr_progress(label: str) -> Progress:
    """Return a progress printer: one line on stderr, rewritten after each file."""

    def show(done: int, total: int) -> None:
        click.echo(f"\r{label}: {done} of {total} files", nl=False, err=True)
        sys.stderr.flush()

    return show


@contextmanager
def stdout_on_stderr() -> Iterator[None]:
    """Send what this process prints to stdout to stderr instead, for the time of the block.

    libzim prints the steps of closing a file on the C++ standard output, whatever its
    verbosity; the command's own stdout keeps only its result.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def export_one_language(what: str, options: dict, write: Callable[[Selection], R]) -> tuple[int, R]:
    """Choose the selection of a ZIM file or a site, write it and return its module count and report.

    ``what`` names the export in messages and its progress line.
    """
    language = one_language(options["languages"], what)
    with export_source(options["bundles"], options["trust"]):
        selection = choose(options["country"], options["levels"], options["subjects"], language)
        try:
            return len(selection.modules), write(selection)
        finally:
            click.echo("", err=True)  # ends the progress line


@export_group.command("zim", help="Write the published modules chosen as one ZIM file (Kiwix).")
@selection_options
@source_options
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="The ZIM file to write."
)
def export_zim_command(out: Path, **options) -> None:
    def write(selection: Selection) -> ZimReport:
        with stdout_on_stderr():
            return export_zim(selection, out, stderr_progress("ZIM"))

    modules, report = export_one_language("A ZIM file", options, write)
    click.echo(
        f"Wrote {out}: {modules} modules, {report.entries} entries, "
        f"{report.size / 1_000_000:.1f} MB."
    )


@export_group.command("site", help="Write the published modules chosen as a folder of web pages.")
@selection_options
@source_options
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="The new folder to write."
)
def export_site_command(out: Path, **options) -> None:
    def write(selection: Selection) -> SiteReport:
        return export_site(selection, out, stderr_progress("Site"))

    modules, report = export_one_language("A site", options, write)
    click.echo(
        f"Wrote {out}: {modules} modules, {report.files} files, "
        f"{report.size / 1_000_000:.1f} MB. Open {out / 'index.html'} in a browser."
    )


@export_group.command(
    "booklets",
    help="Write one printable booklet (an HTML file to print or save as PDF from any browser) "
    "per class and subject: cover, contents, every module with its worksheets and answers.",
)
@selection_options
@source_options
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the booklets into (made if need be).",
)
def export_booklets(
    country: str,
    levels: tuple[str, ...],
    subjects: tuple[str, ...],
    languages: tuple[str, ...],
    bundles: tuple[Path, ...],
    trust: Path | None,
    out: Path,
) -> None:
    with export_source(bundles, trust):
        booklets = plan_booklets(country, levels, subjects, languages)
        written = write_booklets(booklets, out, progress=say)
    size = sum(path.stat().st_size for path in written)
    click.echo(f"Wrote {len(written)} booklet(s) into {out} ({size / 1e6:.1f} MB).")
