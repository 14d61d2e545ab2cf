"""The ``imaginecole export …`` commands: thin wrappers of ``export_zim`` and ``export_site``.

Each chooses the selection, then calls the export function with an output path and a
progress printer; a wrapper that opens another instance first (a bundle on a laptop) can
call the same functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from imaginecole.commands import database_command
from imaginecole.exports.pages import Progress
from imaginecole.exports.selection import ExportError, Selection, choose
from imaginecole.exports.site import export_site
from imaginecole.exports.zim import export_zim


@click.group("export", help="Write the catalogue of a country as a ZIM file or a static site.")
def export_group() -> None:
    pass


def selection_options(command: Callable) -> Callable:
    """Add the options that choose what an export holds."""
    for option in reversed(
        [
            click.option("--country", required=True, help="Country code, e.g. sn."),
            click.option(
                "--level", "levels", multiple=True, help="A level (code or slug); repeat for more."
            ),
            click.option(
                "--subject", "subjects", multiple=True, help="A subject (slug); repeat for more."
            ),
            click.option(
                "--language",
                type=click.Choice(["fr", "en", "ar"]),
                help="Only modules readable in this language, and pages in it.",
            ),
        ]
    ):
        command = option(command)
    return command


def chosen(country: str, levels, subjects, language) -> Selection:
    try:
        return choose(country, tuple(levels), tuple(subjects), language)
    except ExportError as error:
        raise click.ClickException(str(error)) from None


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


@export_group.command("zim", help="Write the published modules chosen as one ZIM file (Kiwix).")
@selection_options
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="The ZIM file to write."
)
@database_command
def export_zim_command(country, levels, subjects, language, out: Path) -> None:
    selection = chosen(country, levels, subjects, language)
    try:
        with stdout_on_stderr():
            report = export_zim(selection, out, stderr_progress("ZIM"))
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    finally:
        click.echo("", err=True)  # ends the progress line
    click.echo(
        f"Wrote {out}: {len(selection.modules)} modules, {report.entries} entries, "
        f"{report.size / 1_000_000:.1f} MB."
    )


@export_group.command("site", help="Write the published modules chosen as a folder of web pages.")
@selection_options
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="The new folder to write."
)
@database_command
def export_site_command(country, levels, subjects, language, out: Path) -> None:
    selection = chosen(country, levels, subjects, language)
    try:
        report = export_site(selection, out, stderr_progress("Site"))
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    finally:
        click.echo("", err=True)  # ends the progress line
    click.echo(
        f"Wrote {out}: {len(selection.modules)} modules, {report.files} files, "
        f"{report.size / 1_000_000:.1f} MB. Open {out / 'index.html'} in a browser."
    )
