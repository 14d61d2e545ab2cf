"""The ``imaginecole check`` command: find files nothing uses and an index out of step; repair."""

from __future__ import annotations

import sys

import click

from imaginecole.commands import database_command
from imaginecole.datadir import ImportBusy
from imaginecole.maintenance.operations import CheckReport, Leftovers, check_data, repair
from sync.errors import human_size


def _line(label: str, leftovers: Leftovers) -> str:
    return f"  {label}: {len(leftovers.paths)} ({human_size(leftovers.size)})"


def describe(report: CheckReport) -> list[str]:
    """Return the report as lines for people."""
    lines = [
        _line("blobs no row names", report.unreferenced),
        _line("staging folders and temporary files", report.staging),
        _line("upload folders of no upload", report.uploads),
        _line("pieces of abandoned uploads", report.partials),
        f"  blobs named by the database but missing: {len(report.missing)}",
        f"  modules the search index has out of date or lacks: {len(report.index_stale)}",
        f"  modules the search index has but the database does not: {len(report.index_extra)}",
        f"  lesson texts rendered by an older version: {report.stale_lessons}",
    ]
    lines += [f"    missing {sha}" for sha in report.missing[:20]]
    return lines


@click.command(
    "check",
    help="Find blobs nothing uses, staging and upload leftovers, search index gaps and lessons "
    "an older version rendered; --repair removes, rebuilds and renders them again.",
)
@click.option(
    "--repair",
    "do_repair",
    is_flag=True,
    help="Remove the leftovers, update the index, render old lessons again.",
)
@database_command
def check_command(do_repair: bool) -> None:
    report = check_data()
    if report.clean:
        click.echo("Everything is in order: every file is used, the search index is up to date.")
        return
    click.echo("Found:")
    for line in describe(report):
        click.echo(line)
    if not do_repair:
        click.echo("Run `imaginecole check --repair` to remove the leftovers and update the index.")
        sys.exit(1)
    try:
        result = repair()
    except ImportBusy as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Repaired: {result.removed} leftover(s) removed ({human_size(result.freed)} freed), "
        f"{result.reindexed} module(s) re-indexed, {result.rerendered} lesson text(s) rendered again."
    )
    if report.missing:
        click.echo(
            f"{len(report.missing)} blob(s) are missing and cannot be made here: import the "
            "latest full bundle again, or restore a backup.",
            err=True,
        )
        sys.exit(1)
