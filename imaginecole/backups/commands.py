"""``imaginecole backup`` and ``imaginecole restore``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from imaginecole.backups.operations import BackupError, backup, restore


@click.command(
    "backup",
    help="Write the database, media, keys, trust file and settings into one archive file; "
    "the server may keep running.",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    try:
        report = backup(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Backed up the {report.database} database and {report.files - 1} files "
        f"into {report.path} ({report.size / 1e6:.1f} MB). It holds private keys: keep it safe."
    )


@click.command(
    "restore",
    help="Bring back a server from a backup archive, into an empty data directory and database.",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data this server already has.")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    try:
        report = restore(path, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    keys = ", ".join(report.restored) or "no keys nor trust file"
    click.echo(
        f"Restored the {report.database} database backed up on {report.created} "
        f"(Imaginecole {report.app_version}): {report.accounts} accounts, {report.modules} "
        f"modules, {report.blobs} media files, and {keys}. "
        "The search index was rebuilt; people need to sign in again."
    )
    for name, value in report.settings.items():
        click.echo(f"The backed-up server had IMAGINECOLE_{name} = {value!r}; this one differs.")
