"""The ``imaginecole-sync`` command: keys, building and verifying bundles, with no app configured.

Each command only parses options and calls ``sync.bundle``; every refusal is printed as one
plain sentence with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from sync.bundle import (
    DEFAULT_PART_SIZE,
    BuildError,
    BundleError,
    build_bundle,
    check_trust_update,
    find_bundles,
    generate_key_files,
    inputs_time,
    load_private_key,
    load_public_key,
    load_trust,
    parse_trust_bytes,
    read_manifest,
    sign_trust,
    trust_entry_toml,
    verify_bundle,
)
from sync.content import read_content
from sync.errors import human_size
from sync.submissions import PACKAGE_SUFFIX, load_enrolled, verify_package

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(command: F) -> F:
    """Turn every expected failure into a one-line message and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BundleError as error:
            raise click.ClickException(str(error)) from error
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}") from error

    return wrapper  # type: ignore[return-value]


@click.group(help="Build, sign and verify Imaginecole content bundles.")
def cli() -> None:
    pass


def main() -> None:
    """Run the ``imaginecole-sync`` console script."""
    cli(prog_name="imaginecole-sync")


# ---------------------------------------------------------------------------- keys


@cli.group("keys", help="Create and inspect the Ed25519 keys that sign bundles.")
def keys_group() -> None:
    pass


def _trust_snippet(public_key_path: Path, countries: tuple[str, ...], name: str) -> str:
    public_key = load_public_key(public_key_path)
    entry = trust_entry_toml(public_key, list(countries) or ["xx"], name)
    if not countries:
        entry = "# Replace xx with the countries this key may sign for.\n" + entry
    return entry


@keys_group.command("generate", help="Create NAME.key (private, keep it secret) and NAME.pub.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="publisher", show_default=True, help="File name of the keys.")
@click.option("--country", "countries", multiple=True, help="For the trust entry printed.")
@_friendly
def keys_generate(out_dir: Path, name: str, countries: tuple[str, ...]) -> None:
    files = generate_key_files(out_dir, name)
    click.echo(f"Key {files.key_id}")
    click.echo(
        f"  private key: {files.private_path} (readable by you only; never copy it to a stick)"
    )
    click.echo(f"  public key:  {files.public_path}")
    click.echo("\nAdd this entry to the trust file of every school server that should accept it:\n")
    click.echo(_trust_snippet(files.public_path, countries, name))


@keys_group.command("show", help="Show the id of a key file and its trust file entry.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--country", "countries", multiple=True, help="For the trust entry printed.")
@_friendly
def keys_show(path: Path, countries: tuple[str, ...]) -> None:
    public_key = load_public_key(path)
    click.echo(f"Key {public_key.key_id}")
    click.echo(f"  public key: {public_key.to_base64()}\n")
    click.echo(_trust_snippet(path, countries, path.stem))


# ---------------------------------------------------------------------------- trust files


@cli.group("trust", help="Sign and check the trust files school servers accept bundles by.")
def trust_group() -> None:
    pass


@trust_group.command(
    "sign", help="Add a root key's signature to a trust file (raise its version first)."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_friendly
def trust_sign(path: Path, key_path: Path) -> None:
    key = load_private_key(key_path)
    signed = sign_trust(path.read_bytes(), key)
    trust = parse_trust_bytes(signed, str(path))
    if key.key_id not in trust.roots:
        raise click.ClickException(f"key {key.key_id} is not among the root keys of {path}")
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(signed)
    os.replace(temp, path)
    valid = len(trust.signed_by(trust.roots))
    click.echo(
        f"Signed {path} (version {trust.version}) with root key {key.key_id}: "
        f"{valid} of the {trust.root_threshold} signature(s) it needs from its own roots."
    )


@trust_group.command(
    "check", help="Check a trust file, and with --previous whether it may replace that one."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--previous", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trust file schools have now.",
)  # fmt: skip
@_friendly
def trust_check(path: Path, previous: Path | None) -> None:
    trust = load_trust(path)
    check_trust_update(trust, load_trust(previous) if previous else None, str(path))
    click.echo(
        f"{path}: version {trust.version}, {len(trust.keys)} key(s), {len(trust.roots)} root "
        f"key(s), {len(trust.revoked)} revoked; "
        + (f"may replace {previous}" if previous else "well formed")
    )


# ---------------------------------------------------------------------------- build


class _ProgressLine:
    """Draw bytes done, percentage and time left on one line of stderr."""

    def __init__(self, label: str):
        self.label = label
        self.start = time.monotonic()
        self.last = 0.0
        self.drawn = False
        self.live = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and (not self.live or now - self.last < 0.2):
            return  # a log file gets the last state only; a terminal gets 5 redraws a second
        self.last = now
        elapsed = now - self.start
        percent = 100 * done // total if total else 100
        eta = ""
        if 0 < done < total and elapsed > 0.5:
            left = int((total - done) * elapsed / done)
            eta = f"  about {left // 60}:{left % 60:02d} left"
        width = 24
        filled = width * percent // 100
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r{self.label} [{bar}] {human_size(done)} / {human_size(total)} {percent:3d}%{eta}   ",
            err=True,
            nl=False,
        )
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            click.echo("", err=True)


SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def _parse_size(value: str) -> int:
    match = SIZE.match(value)
    if not match:
        raise click.BadParameter(f"{value!r}: write a size like 3.9G, 700M or 4096")
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    return int(float(match.group(1)) * factor[match.group(2).lower()])


def _created_default(country_dir: Path) -> datetime:
    # SOURCE_DATE_EPOCH is the usual way to pin the time of a reproducible build.
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        if not epoch.isdigit():
            raise click.ClickException("SOURCE_DATE_EPOCH must be a number of seconds")
        return datetime.fromtimestamp(int(epoch), UTC)
    return inputs_time([country_dir])


@cli.command("build", help="Build and sign a bundle (full, or an update with --since).")
@click.option(
    "--content",
    "content_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The content folder (with one sub-folder per country).",
)
@click.option("--country", required=True, help="Two-letter country code, like sn.")
@click.option("--version", "version", required=True, type=click.IntRange(min=1))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", "out_path", required=True, type=click.Path(path_type=Path),
    help="The bundle file to write (or a folder: named CC-CHANNEL-vN.icb inside it).",
)  # fmt: skip
@click.option(
    "--since", "since", type=click.Path(path_type=Path),
    help="A previous bundle, or its manifest.json: build an update from it.",
)  # fmt: skip
@click.option("--level", "levels", multiple=True, help="Only modules of this level (repeatable).")
@click.option("--subject", "subjects", multiple=True, help="Only this subject (repeatable).")
@click.option("--channel", default="main", show_default=True)
@click.option("--created", help="The bundle's time, like 2025-01-31T08:00:00Z.")
@click.option("--part-size", default=str(DEFAULT_PART_SIZE), help="Largest part, like 3.9G.")
@_friendly
def build(
    content_dir: Path,
    country: str,
    version: int,
    key_path: Path,
    out_path: Path,
    since: Path | None,
    levels: tuple[str, ...],
    subjects: tuple[str, ...],
    channel: str,
    created: str | None,
    part_size: str,
) -> None:
    country = country.lower()
    tree = read_content(content_dir, countries=[country])
    if tree.problems:
        for problem in tree.problems:
            click.echo(str(problem), err=True)
        raise BuildError(
            f"{len(tree.problems)} problem(s) in the content of {country}; nothing was built"
        )
    if country not in tree.curricula:
        raise BuildError(f"{content_dir} has no content for country {country!r}")
    if out_path.is_dir():
        out_path = out_path / f"{country}-{channel}-v{version}.icb"
    base = read_manifest(since) if since else None
    line = _ProgressLine("Writing")
    try:
        manifest = build_bundle(
            tree,
            None,
            country,
            version,
            out_path,
            key_path,
            base_manifest=base,
            levels=levels or None,
            subjects=subjects or None,
            channel=channel,
            created=created or _created_default(content_dir / country),
            progress=line,
            part_size=_parse_size(part_size),
        )
    finally:
        line.close()
    kind = f"update from version {manifest.base_version}" if manifest.is_delta else "full"
    click.echo(
        f"Wrote {out_path}: {country}/{channel} version {version} ({kind}), "
        f"{len(manifest.modules)} module(s), {len(manifest.tombstones)} removed, "
        f"{len(manifest.files)} file(s), {human_size(manifest.total_size)}, "
        f"signed by key {manifest.publisher_key_id}"
    )
    parts = sorted(out_path.parent.glob(out_path.name + ".[0-9][0-9][0-9]"))
    if parts and not out_path.exists():
        click.echo(
            f"  in {len(parts)} parts: copy all of them, {parts[0].name} to {parts[-1].name}"
        )


# ---------------------------------------------------------------------------- verify


@cli.command("verify", help="Check bundles (a file, a part, or a folder/stick) without importing.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--trust", "trust_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMAGINECOLE_SYNC_TRUST",
    help="The server's trust file; without it, signatures are checked for integrity only.",
)  # fmt: skip
@_friendly
def verify(path: Path, trust_path: Path | None) -> None:
    trust = load_trust(trust_path) if trust_path else None
    if not path.exists() and not path.with_name(path.name + ".001").exists():
        raise click.ClickException(f"{path}: no such file or folder")
    bundles = find_bundles(path)
    if not bundles:
        raise click.ClickException(f"{path}: no bundle (*.icb) found")
    bad = 0
    for bundle in bundles:
        verdict = verify_bundle(bundle, trust)
        for text in verdict.lines():
            click.echo(text)
        bad += not verdict.ok
    if trust is None:
        click.echo(
            "Note: no trust file given: each bundle is intact and signed, but whether its key "
            "may sign for its country was not checked.",
            err=True,
        )
    if bad:
        click.echo(f"{bad} of {len(bundles)} bundle(s) are bad; do not import them.", err=True)
        sys.exit(1)
    click.echo(f"All {len(bundles)} bundle(s) are good.")


# ---------------------------------------------------------------------------- submissions


@cli.group("submissions", help="Check the teacher submission packages school servers send.")
def submissions_group() -> None:
    pass


@submissions_group.command(
    "verify", help="Check submission packages (a file, or a folder/stick) without importing."
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--enrolled", "enrolled_path", required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMAGINECOLE_SYNC_ENROLLED",
    help="The national server's file of enrolled school servers.",
)  # fmt: skip
@_friendly
def submissions_verify(path: Path, enrolled_path: Path) -> None:
    enrolled = load_enrolled(enrolled_path)
    packages = (
        sorted(
            p
            for p in path.rglob("*" + PACKAGE_SUFFIX)
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if path.is_dir()
        else [path]
    )
    if not packages:
        raise click.ClickException(f"{path}: no submission package (*{PACKAGE_SUFFIX}) found")
    bad = 0
    for package in packages:
        try:
            received = verify_package(package, enrolled)
        except BundleError as error:
            bad += 1
            click.echo(f"BAD  {package}: do not import\n     - {error}")
            continue
        revisions = sum(len(s.revisions) for s in received.submissions)
        click.echo(
            f"GOOD {package}: from {received.school_name} ({received.country}, key "
            f"{received.school_key_id}), {len(received.submissions)} submission(s), "
            f"{revisions} revision(s)"
        )
    if bad:
        click.echo(f"{bad} of {len(packages)} package(s) are bad; do not import them.", err=True)
        sys.exit(1)
    click.echo(f"All {len(packages)} package(s) are good.")
