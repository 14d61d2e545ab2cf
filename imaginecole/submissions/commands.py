"""The school server's ``imaginecole submissions …`` commands: enrolment entry and outbox."""

from __future__ import annotations

from pathlib import Path

import click

from imaginecole.commands import database_command
from imaginecole.datadir import school_key_path
from imaginecole.submissions.outbox import (
    SchoolKeyMissing,
    countries_with_pending,
    create_school_key,
    enrolment_entry,
    export_package,
)
from sync.bundle import BundleError


@click.command(
    "key",
    help="Print this school server's enrolment entry for the national team; the first time, "
    "create the key that signs its packages.",
)
@click.option("--country", required=True, help="Country code of this school.")
@click.option(
    "--name", required=True, help="Name of this school, as the national team will see it."
)
@click.option(
    "--new-key",
    is_flag=True,
    help="Replace a key that was lost after packages were sent (the school must be enrolled again).",
)
@database_command
def submissions_key(country: str, name: str, new_key: bool) -> None:
    if not school_key_path().exists():
        try:
            path = create_school_key(replace_lost=new_key)
        except SchoolKeyMissing as error:
            raise click.ClickException(str(error)) from None
        click.echo(
            f"Created this school server's key: {path}. Keep it in the server's backups.",
            err=True,
        )
    click.echo(enrolment_entry(country, name), nl=False)


@click.command("export", help="Write the submissions waiting to be sent as a signed package.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--country", default=None, help="Country whose submissions to export (default: the only one)."
)
@database_command
def submissions_export(out_path: Path, country: str | None) -> None:
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
    except (BundleError, OSError, SchoolKeyMissing) as error:
        raise click.ClickException(f"The package could not be written: {error}") from None
    if report.path is None:
        click.echo("Nothing to export: every submission has reached the national server.")
        return
    click.echo(
        f"Wrote {report.path}: {report.submissions} submissions, {report.revisions} revisions, "
        f"{report.withdrawals} withdrawals. Carry it to the national team; it is sent again until they confirm."
    )
