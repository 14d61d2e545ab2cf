"""Export from signed bundles on a laptop: no server, no configuration, nothing left behind.

``bundle_app`` checks the bundles, opens a throwaway instance in a temporary folder (SQLite,
the Whoosh index beside it), installs them there by the import every school server uses, and
hands out its app; the folder goes when the export ends, however it ends. Nothing of the
user's settings is read: not the environment's ``IMAGINECOLE_*`` variables (a database URL
among them), nor the current folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from imaginecole.bundles.keys import fingerprint
from imaginecole.bundles.operations import install_all, survey_bundles
from imaginecole.config import DEFAULTS
from imaginecole.datadir import trust_file_path
from imaginecole.extensions import db
from imaginecole.schema import ensure_schema
from sync.bundle.catchup import INSTALL, NEEDS, REFUSED
from sync.bundle.reader import find_bundles, signer_key, verify_bundle
from sync.container.archive import SignedArchive
from sync.container.keys import PublicKey, TrustStore, load_trust, trust_entry_toml
from sync.errors import BundleError

AppFactory = Callable[[dict], Flask]
Say = Callable[[str], None]

DATABASE_FILE = "imaginecole.sqlite3"


class BundleSourceError(Exception):
    """The bundles given cannot be exported from; the message says why and what to do."""


def throwaway_config(folder: Path) -> dict:
    """Return every setting of an instance in ``folder``: the defaults, whatever the environment says."""
    return {
        **DEFAULTS,
        "DATA_DIR": str(folder),
        "DATABASE_URL": "",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / DATABASE_FILE}",
        "SEARCH_ENGINE": "whoosh",
        "PAGE_CACHE_MB": 0,
        "SERVER_ROLE": "school",
    }


@contextmanager
def bundle_app(
    paths: Sequence[Path], trust_path: Path | None, make_app: AppFactory, say: Say
) -> Iterator[Flask]:
    """Yield an app holding the content of the bundles at ``paths`` (files or folders).

    With ``trust_path`` (a school's trust.toml) every bundle must be signed by a key it
    trusts for its country; without, each signature is checked against the key the bundle
    carries and that key's fingerprint is told (``say``), to be compared with the national
    team's. Updates need the bundle they update: a full bundle, then updates, in any order.
    """
    bundles = _bundle_files(paths)
    trust = _read_trust(trust_path) if trust_path else None
    keys = _check(bundles, trust, say)
    with tempfile.TemporaryDirectory(prefix="imaginecole-export-") as temp:
        app = make_app(throwaway_config(Path(temp)))
        try:
            with app.app_context():
                ensure_schema(app)
                if trust_path:
                    trust_file_path().write_bytes(trust_path.read_bytes())
                else:
                    trust_file_path().write_text(_trust_of(keys), encoding="utf-8")
                _install(bundles, say)
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()  # SQLite's files are closed before their folder goes


def _bundle_files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if not path.exists() and not path.with_name(path.name + ".001").exists():
            raise BundleSourceError(f"{path}: no such file or folder.")
        in_path = find_bundles(path)
        if not in_path:
            raise BundleSourceError(f"No bundle (*.icb) in {path}.")
        found += [bundle for bundle in in_path if bundle not in found]
    return found


def _read_trust(path: Path) -> TrustStore:
    try:
        return load_trust(path)
    except BundleError as error:
        raise BundleSourceError(f"Trust file {path} cannot be used: {error}") from None


def _check(
    bundles: list[Path], trust: TrustStore | None, say: Say
) -> dict[str, tuple[PublicKey, set]]:
    """Verify every bundle completely; return the key of each signer with its countries."""
    keys: dict[str, tuple[PublicKey, set]] = {}
    for path in bundles:
        say(f"Checking {path} …")
        verdict = verify_bundle(path, trust)
        if not verdict.ok:
            raise BundleSourceError(
                f"Bundle {path} refused: {verdict.problems[0]}. Nothing was exported."
            )
        assert verdict.manifest is not None
        if trust is None:
            key = _carried_key(path)
            keys.setdefault(key.key_id, (key, set()))[1].add(verdict.manifest.country)
    for key_id, (key, countries) in sorted(keys.items()):
        say(
            f"Bundles of {', '.join(sorted(countries))} signed by key {key_id}, fingerprint "
            f"{fingerprint(key)}. This key was NOT checked against a trusted key: compare the "
            "fingerprint with the one your national team gives (by phone), or give their trust "
            "file with --trust."
        )
    return keys


def _carried_key(path: Path) -> PublicKey:
    with SignedArchive(path) as archive:
        _manifest, signature = archive.authenticate(lambda found: signer_key(found, None))
    assert signature.public_key is not None  # signer_key refuses a signature without one
    return signature.public_key


def _trust_of(keys: dict[str, tuple[PublicKey, set]]) -> str:
    entries = "".join(
        "\n" + trust_entry_toml(key, sorted(countries), "key carried by the bundle")
        for key, countries in keys.values()
    )
    return "format = 1\n" + entries


def _install(bundles: list[Path], say: Say) -> None:
    candidates = survey_bundles(bundles)
    for candidate in candidates:
        if candidate.status == REFUSED:
            raise BundleSourceError(f"Bundle {candidate.path} refused: {candidate.problem}")
        if candidate.status == NEEDS:
            manifest = candidate.manifest
            raise BundleSourceError(
                f"{candidate.path} is an update of {manifest.country} {manifest.channel} "
                f"v{manifest.base_version}: give that version's bundle too (or a full bundle "
                "of an older version with the updates after it)."
            )
    planned = sorted((c for c in candidates if c.status == INSTALL), key=lambda c: c.step or 0)
    for candidate in planned:
        manifest = candidate.manifest
        say(
            f"Opening {manifest.country} {manifest.channel} v{manifest.version} ({candidate.path}) …"
        )
    report = install_all(bundles)
    if report.error is not None:
        raise BundleSourceError(f"Bundle {report.failed.path} refused: {report.error}")
