"""The ``imaginecole bundle …``, ``keys …`` and ``trust …`` commands: bundles and who signs them."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path

import click

from imaginecole.bundles.keys import (
    current_trust,
    generate_signing_key,
    replace_trust,
    rotate_signing_key,
    update_trust,
)
from imaginecole.bundles.operations import (
    ImportReport,
    build_country_bundle,
    built_bundles,
    channel_modules,
    import_bundle,
    install_all,
    installed_bundles,
    remove_channel,
    survey_bundles,
)
from imaginecole.commands import database_command
from sync.bundle import BundleError, Candidate, TrustStore, catchup, find_bundles, trust_entry_toml


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
@click.option("--note", default="", help="What this version changes, told to the schools.")
@click.option(
    "--even-if-unchanged",
    is_flag=True,
    help="Build even when nothing changed since the last bundle (after a key rotation).",
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
    note: str,
    even_if_unchanged: bool,
) -> None:
    update, close = _bytes_progress("Building")
    try:
        built = build_country_bundle(
            country, since=since, channel=channel, levels=list(levels) or None,
            subjects=list(subjects) or None, out_dir=out_dir, progress=update, note=note,
            allow_unchanged=even_if_unchanged,
        )  # fmt: skip
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    finally:
        close()
    kind = f"delta from v{built.base_version}" if built.base_version else "full"
    click.echo(
        f"Built {built.path}: {country} {channel} v{built.version} ({kind}), {built.module_count} modules, {built.size / 1e6:.1f} MB, key {built.publisher_key_id}"
    )


STATUS_TEXT = {
    catchup.INSTALLED: "installed already",
    catchup.OLDER: "older than the version installed: not needed",
    catchup.NOT_NEEDED: "not needed: another bundle here brings this version or a newer one",
}


def _describe_candidate(candidate: Candidate) -> str:
    m = candidate.manifest
    if m is None:
        return f"  {candidate.path}: refused: {candidate.problem}"
    kind = f"changes since v{m.base_version}" if m.is_delta else "full"
    if candidate.status == catchup.INSTALL:
        status = f"to install, step {candidate.step}"
    elif candidate.status == catchup.NEEDS:
        status = (
            "needs a full bundle first (the content installed came from a revoked key)"
            if candidate.needs is None
            else f"needs version {candidate.needs} first, which is not here"
            if not candidate.installed or candidate.needs > candidate.installed
            else f"made for servers that have version {candidate.needs}; this one has "
            f"version {candidate.installed}"
        )
    else:
        status = STATUS_TEXT[candidate.status]
    return f"  {candidate.path}: {m.country} {m.channel} v{m.version} ({kind}): {status}"


@bundle_group.command(
    "import",
    help="Check a bundle and install it; nothing changes if it is refused. Given a folder (a "
    "USB drive), install every bundle in it that brings this server up to date, in order.",
)
@click.argument("path", type=click.Path(path_type=Path))
@database_command
def bundle_import(path: Path) -> None:
    if path.is_dir():
        _import_folder(path)
        return
    update, close = _bytes_progress("Copying")
    try:
        report = import_bundle(path, progress=update)
    except BundleError as error:
        raise click.ClickException(f"Bundle refused, nothing was changed: {error}") from None
    finally:
        close()
    _echo_report(report)


def _import_folder(folder: Path) -> None:
    paths = find_bundles(folder)
    if not paths:
        raise click.ClickException(f"No bundle (*.icb) in {folder}.")
    try:
        candidates = survey_bundles(paths)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    for candidate in sorted(candidates, key=lambda c: (c.step is None, c.step or 0)):
        click.echo(_describe_candidate(candidate))
    if not any(c.status == catchup.INSTALL for c in candidates):
        click.echo("Nothing to install: this server is up to date with these bundles.")
        return
    closers = []

    def progress(candidate: Candidate):
        update, close = _bytes_progress(f"Copying v{candidate.manifest.version}")
        closers.append(close)
        return update

    try:
        report = install_all(paths, progress)
    finally:
        for close in closers:
            close()
    for done in report.installed:
        _echo_report(done)
    if report.error is not None:
        waiting = f"; {report.waiting} after it not tried" if report.waiting else ""
        raise click.ClickException(f"Bundle {report.failed.path} refused{waiting}: {report.error}")


def _echo_report(report: ImportReport) -> None:
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
    if report.index_behind:
        click.echo(
            f"Warning: the search index could not be updated ({report.index_behind}); it catches "
            "up at the next import or start, or with: imaginecole search reindex",
            err=True,
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
@click.option("--yes", is_flag=True, help="Do not ask first.")
@database_command
def bundle_remove(country: str, channel: str, yes: bool) -> None:
    if not yes:
        modules = channel_modules(country, channel)
        for module in modules[:20]:
            click.echo(f"  {module.uid}")
        if len(modules) > 20:
            click.echo(f"  … and {len(modules) - 20} more")
        click.confirm(
            f"Remove these {len(modules)} modules of {country} ({channel}) and the record of "
            "its installed versions? A full bundle installed again brings them back",
            abort=True,
        )
    try:
        count = remove_channel(country, channel)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Removed {count} modules of {country} ({channel}).")


# ---------------------------------------------------------------------------- keys


@click.group("keys", help="Create or replace the key this national server signs bundles with.")
def keys_group() -> None:
    pass


@keys_group.command(
    "generate", help="Create this server's signing key (once; it is never replaced silently)."
)
@click.option("--country", "countries", multiple=True, help="For the trust entry printed.")
@database_command
def keys_generate(countries: tuple[str, ...]) -> None:
    try:
        path, key = generate_signing_key()
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created signing key {key.key_id} in {path} (readable by this user only).")
    click.echo(
        "Back it up with `imaginecole backup`: a lost key means a new one, and a new trust "
        "file for every school. Give the ministry this entry for the schools' trust file:\n"
    )
    click.echo(trust_entry_toml(key.public, list(countries) or ["xx"], "publisher"))


@keys_group.command(
    "rotate",
    help="Replace the signing key by a new one, signed over by the old one; record it for "
    "the countries of the old.",
)
@click.option(
    "--old-key-lost",
    is_flag=True,
    help="The old key is lost or stolen: record the new one without its signature.",
)
@database_command
def keys_rotate(old_key_lost: bool) -> None:
    try:
        rotation = rotate_signing_key(old_key_lost)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    new = rotation.new_key
    old = rotation.old_key_id or "(lost)"
    click.echo(f"Key {new.key_id} replaces key {old} for: {', '.join(rotation.countries) or '-'}")
    if rotation.retired_path is not None:
        click.echo(f"  the old key file is kept as {rotation.retired_path}")
    if rotation.endorsement:
        signature = base64.b64encode(rotation.endorsement).decode("ascii")
        click.echo(f"  signed by the old key: {signature}")
    click.echo(
        "\nBuild nothing until the ministry has sent schools a trust file that trusts the new "
        "key (and, if the old one was stolen, revokes it). Its entry:\n"
    )
    click.echo(trust_entry_toml(new.public, rotation.countries or ["xx"], "publisher"))


# ---------------------------------------------------------------------------- trust


@click.group("trust", help="Show or install the trust file: whose bundles this server accepts.")
def trust_group() -> None:
    pass


def _describe_trust(trust: TrustStore) -> None:
    roots = f"{len(trust.roots)} root key(s), {trust.root_threshold} needed to sign the next"
    click.echo(f"Trust file version {trust.version}: {roots}.")
    for key in trust.keys.values():
        click.echo(f"  key {key.key_id} {key.name or ''} for {', '.join(key.countries)}")
    for key_id in sorted(trust.revoked):
        click.echo(f"  revoked {key_id}")


@trust_group.command("show", help="Check the trust file in use and list its keys.")
@database_command
def trust_show() -> None:
    try:
        trust = current_trust()
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    _describe_trust(trust)


@trust_group.command(
    "update",
    help="Install newer trust files from the national team, each signed by the root keys the "
    "one before names.",
)
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@database_command
def trust_update(paths: tuple[Path, ...]) -> None:
    try:
        trust = update_trust(list(paths))
    except BundleError as error:
        raise click.ClickException(f"Trust file refused, nothing was changed: {error}") from None
    _describe_trust(trust)


@trust_group.command(
    "replace",
    help="Install a trust file on purpose, whatever its version or signatures (lost root keys).",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.confirmation_option(
    prompt="Replace the trust file without checking its version and signatures?"
)
@database_command
def trust_replace(path: Path) -> None:
    try:
        trust = replace_trust(path)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    _describe_trust(trust)
