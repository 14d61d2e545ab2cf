"""Measure what SQLite's ``synchronous=FULL`` costs next to ``NORMAL``: a content load and a
bundle import, the two writes a server makes in bulk.

Each round loads ``content/`` into a fresh national data folder with ``imaginecole content load``
and imports that server's full bundle of one country into a fresh school folder, once with each
setting (in turn, so that a slower moment of the disk falls on both); the medians are printed.
The setting is changed by one more ``connect`` listener, run after the app's own.

    .venv/bin/python bench/durability.py --rounds 3 --country sn

Everything is written under one temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Run as `python bench/durability.py`: bench/common.py, beside this script, must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, log, open_app, this_machine  # noqa: E402

MODES = ("NORMAL", "FULL")
setting = {"mode": "FULL"}


@event.listens_for(Engine, "connect")
def _synchronous(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.execute(f"PRAGMA synchronous={setting['mode']}")


def content_load(data_dir: Path, content: Path) -> tuple[float, object]:
    app = open_app(data_dir)
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["content", "load", str(content)])
    elapsed = time.perf_counter() - started
    assert result.exit_code in (0, 1), result.output  # 1: some sample modules have problems
    return elapsed, app


def bundle_for(national, country: str) -> Path:
    from imaginecole.bundles.keys import generate_signing_key
    from imaginecole.bundles.operations import build_country_bundle
    from imaginecole.datadir import signing_key_path
    from imaginecole.extensions import db

    with national.app_context():
        if not signing_key_path().exists():
            generate_signing_key()  # what `imaginecole keys generate` does on a real server
        row = build_country_bundle(country)
        db.session.commit()
        return Path(row.path)


def bundle_import(data_dir: Path, bundle: Path, national_dir: Path, country: str) -> float:
    from imaginecole.bundles.operations import import_bundle
    from sync.bundle import load_public_key, trust_entry_toml

    school = open_app(data_dir)
    entry = trust_entry_toml(
        load_public_key(national_dir / "keys" / "publisher.pub"), [country], "bench"
    )
    (data_dir / "trust.toml").write_text("format = 1\n\n" + entry, encoding="utf-8")
    started = time.perf_counter()
    with school.app_context():
        import_bundle(bundle)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--country", default="sn", help="the country whose bundle is imported")
    parser.add_argument("--content", type=Path, default=REPO_ROOT / "content")
    options = parser.parse_args()
    machine = this_machine()
    print(f"  machine  {machine['machine']}, {machine['cpus']} CPUs, Python {machine['python']}")
    root = Path(tempfile.mkdtemp(prefix="imaginecole-durability-"))
    figures: dict[str, dict[str, list[float]]] = {m: {"load": [], "import": []} for m in MODES}
    try:
        for number in range(options.rounds):
            for mode in MODES:
                setting["mode"] = mode
                folder = root / f"{number}-{mode}"
                load_seconds, national = content_load(folder / "national", options.content)
                bundle = bundle_for(national, options.country)
                import_seconds = bundle_import(
                    folder / "school", bundle, folder / "national", options.country
                )
                figures[mode]["load"].append(load_seconds)
                figures[mode]["import"].append(import_seconds)
                log(
                    f"round {number + 1} {mode}: load {load_seconds:.2f} s, "
                    f"import {import_seconds:.2f} s"
                )
        for mode in MODES:
            print(
                f"synchronous={mode}: content load {statistics.median(figures[mode]['load']):.2f} s,"
                f" bundle import {statistics.median(figures[mode]['import']):.2f} s (medians)"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
