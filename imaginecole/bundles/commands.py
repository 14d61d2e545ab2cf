"""The ``imaginecole bundle …`` commands: build, import, list and remove signed bundles."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from imaginecole.bundles.operations import (
    build_country_bundle,
    built_bundles,
    import_bundle,
    installed_bundles,
    remove_channel,
)
from imaginecole.commands import database_command
from sync.bundle import BundleError


@click.group("bundle", help="Build, import and list signed content bundles.")
def bundle_group() -> None:
    pass


def _bytes_progress(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Return (update, close) callbacks of a progress bar showing bytes and the time left."""
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
@database_command
def bundle_build(
    country: str,
    since: int | None,
    channel: str,
    levels: tuple[str, ...],
    subjects: tuple[str, ...],
    out_dir: Path | None,
) -> None:
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
@database_command
def bundle_import(path: Path) -> None:
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
@database_command
def bundle_list() -> None:
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
@database_command
def bundle_remove(country: str, channel: str) -> None:
    try:
        count = remove_channel(country, channel)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Removed {count} modules of {country} ({channel}).")
