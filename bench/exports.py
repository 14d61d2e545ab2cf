"""Measure the exports: a ZIM file and a static folder, next to the bundle of the same modules.

For each data set a national instance is set up in a fresh temporary folder with the real
commands, then, in this process, for each country with published modules:

* **ZIM** (``export_zim`` of the whole country): seconds, bytes, entries;
* **site** (``export_site``): seconds, bytes, files, and the bytes of its search index
  (``search-index.js``, which a browser reads whole before the first search);
* **bundle**: a full bundle of the same country (``build_country_bundle``, every published
  module), its bytes and seconds, and the ZIM's size as a share of it.

Data sets: the sample content of ``content/`` (every country in it), and the real corpus (the
France curriculum of ``content/`` and the four course sites of ``../shared/corpus`` through
``imaginecole content import-course``, as ``bench/bundles.py`` loads them). MB means 10^6
bytes. Needs the ``zim`` extra (libzim).

    .venv/bin/python bench/exports.py
    .venv/bin/python bench/exports.py --no-corpus --json export-figures.json

Everything is written under one temporary folder, removed at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Run as `python bench/exports.py`: bench/common.py and bench/bundles.py must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundles as bundle_bench  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    REPO_ROOT,
    load_corpus,
    log,
    open_app,
    print_machine,
    remove_unless_kept,
    run_cli,
    this_machine,
    write_json,
)

sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere

MB = 1_000_000


@dataclass
class Export:
    data_set: str
    country: str
    modules: int = 0
    lessons: int = 0
    zim_s: float = 0.0
    zim_bytes: int = 0
    zim_entries: int = 0
    site_s: float = 0.0
    site_bytes: int = 0
    site_files: int = 0
    search_index_bytes: int = 0
    bundle_s: float = 0.0
    bundle_bytes: int = 0
    zim_vs_bundle: float | None = None
    site_vs_bundle: float | None = None


@dataclass
class Run:
    python: str = ""
    machine: str = ""
    cpus: int = 0
    exports: list[Export] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def measure(app, data_set: str, work: Path) -> list[Export]:
    """Export every country of ``app`` with published modules, and build its bundle."""
    from sqlalchemy import func, select

    from imaginecole.bundles.operations import build_country_bundle
    from imaginecole.content.models import Module
    from imaginecole.exports.commands import stdout_on_stderr
    from imaginecole.exports.selection import choose
    from imaginecole.exports.site import export_site
    from imaginecole.exports.zim import export_zim
    from imaginecole.extensions import db

    with app.app_context():
        countries = list(
            db.session.scalars(
                select(Module.country_code)
                .where(Module.published.is_(True))
                .group_by(Module.country_code)
                .order_by(func.count(Module.id).desc(), Module.country_code)
            )
        )
    results = []
    for country in countries:
        out = work / data_set / country
        out.mkdir(parents=True)
        figures = Export(data_set=data_set, country=country)
        with app.app_context():
            selection = choose(country)
            figures.modules = len(selection.modules)
            figures.lessons = sum(len(module.lessons) for module in selection.modules)
            started = time.perf_counter()
            with stdout_on_stderr():  # libzim's closing messages stay out of the figures
                zim = export_zim(selection, out / f"{country}.zim")
            figures.zim_s = round(time.perf_counter() - started, 2)
            figures.zim_bytes, figures.zim_entries = zim.size, zim.entries
        with app.app_context():
            started = time.perf_counter()
            site = export_site(choose(country), out / "site")
            figures.site_s = round(time.perf_counter() - started, 2)
            figures.site_bytes, figures.site_files = site.size, site.files
            figures.search_index_bytes = (out / "site" / "search-index.js").stat().st_size
        with app.app_context():
            started = time.perf_counter()
            row = build_country_bundle(country, out_dir=out / "bundle")
            db.session.commit()
            figures.bundle_s = round(time.perf_counter() - started, 2)
            figures.bundle_bytes = row.size
        figures.zim_vs_bundle = round(figures.zim_bytes / figures.bundle_bytes, 3)
        figures.site_vs_bundle = round(figures.site_bytes / figures.bundle_bytes, 3)
        log(f"  {data_set} {country}: {figures.modules} modules exported")
        results.append(figures)
    return results


def national(work: Path, name: str):
    """A fresh national instance in ``work/name`` with a signing key."""
    from imaginecole.bundles.keys import generate_signing_key

    data_dir = work / name / "national"
    data_dir.mkdir(parents=True)
    app = open_app(data_dir, SERVER_ROLE="national")
    with app.app_context():
        generate_signing_key()
    return app, data_dir


def report(run: Run) -> None:
    print("Exports: a ZIM file and a static folder, next to the full bundle of the same modules")
    print_machine(run)
    header = (
        f"  {'set':8} {'cc':3} {'modules':>7} {'lessons':>7} │ {'ZIM s':>6} {'ZIM MB':>8} "
        f"{'entries':>7} │ {'site s':>6} {'site MB':>8} {'files':>6} {'index kB':>8} │ "
        f"{'bundle s':>8} {'bundle MB':>9} │ {'ZIM/bundle':>10} {'site/bundle':>11}"
    )
    print(header)
    for e in run.exports:
        print(
            f"  {e.data_set:8} {e.country:3} {e.modules:7} {e.lessons:7} │ {e.zim_s:6.2f} "
            f"{e.zim_bytes / MB:8.2f} {e.zim_entries:7} │ {e.site_s:6.2f} {e.site_bytes / MB:8.2f} "
            f"{e.site_files:6} {e.search_index_bytes / 1000:8.1f} │ {e.bundle_s:8.2f} "
            f"{e.bundle_bytes / MB:9.2f} │ {e.zim_vs_bundle:10.3f} {e.site_vs_bundle:11.3f}"
        )
    for note in run.notes:
        print(f"  note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the real corpus")
    parser.add_argument("--no-corpus", action="store_true", help="the sample content only")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    from imaginecole.exports.zim import zim_available

    if not zim_available():
        sys.exit("libzim is missing: pip install -e '.[zim]'")
    run = Run(**this_machine())
    work = Path(tempfile.mkdtemp(prefix="imaginecole-exports-bench-"))
    try:
        log("Sample content (content/):")
        app, data_dir = national(work, "sample")
        code, lines, seconds = run_cli(
            ["content", "load", str(REPO_ROOT / "content")], data_dir, args.timeout
        )
        if code != 0:
            sys.exit("`content load content/` failed:\n" + "\n".join(lines[-10:]))
        log(f"  content load: {seconds:.1f} s")
        run.exports += measure(app, "sample", work)
        bundle_bench.close_app(app)
        if args.no_corpus:
            run.notes.append("the real corpus was left out (--no-corpus)")
        elif not args.corpus.is_dir():
            run.notes.append(f"the real corpus was not found at {args.corpus}")
        else:
            log("Real corpus:")
            app, data_dir = national(work, "corpus")
            load_corpus(data_dir, args.corpus, args.timeout, run.notes)
            run.exports += measure(app, "corpus", work)
            bundle_bench.close_app(app)
        report(run)
        if args.json:
            write_json(args.json, run)
    finally:
        remove_unless_kept(work, args.keep)


if __name__ == "__main__":
    main()
