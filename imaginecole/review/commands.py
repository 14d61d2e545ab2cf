"""The national server's ``imaginecole submissions …`` commands: enrol schools, merge packages."""

from __future__ import annotations

from pathlib import Path

import click

from imaginecole.commands import database_command
from imaginecole.review.operations import enroll_schools, import_package
from sync.bundle import BundleError


@click.command("import", help="Merge a school's submission package (national server).")
@click.argument("path", type=click.Path(path_type=Path))
@database_command
def submissions_import(path: Path) -> None:
    try:
        report = import_package(path)
    except BundleError as error:
        raise click.ClickException(f"Package refused, nothing was changed: {error}") from None
    prefix = "Already received before; " if report.already_received else ""
    click.echo(f"{prefix}{report.school_name} ({report.country}): {report.result.describe()}.")
    for decision in report.result.decisions:
        click.echo(f"  {decision.submission_uid[:12]}: {decision.message}")


@click.command("enroll", help="Enrol school servers from their enrolment entries (TOML).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_command
def submissions_enroll(path: Path) -> None:
    try:
        rows = enroll_schools(path.read_text(encoding="utf-8"))
    except (BundleError, ValueError) as error:
        raise click.ClickException(f"Enrolment file refused: {error}") from None
    for row in rows:
        click.echo(f"Enrolled {row.name} ({row.country_code}), key {row.key_id}")
