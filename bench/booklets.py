"""Measure printed booklets: export time and size, from the database and from a bundle.

For each data set a national instance is set up in a fresh temporary folder with the real
commands (``content load``, ``content import-course``, ``keys generate``), then, per country:

* **start**: ``imaginecole db current``, the floor every command pays (Python, the app);
* **database**: ``imaginecole export booklets --country CC --out DIR`` on that instance:
  seconds, peak memory, booklets written, their total and largest size, and whether a second
  run writes the same bytes (exports are reproducible);
* **bundle**: ``bundle build --country CC`` (size of the full bundle), then
  ``imaginecole export booklets --country CC --bundle FILE`` from a folder with no settings at
  all, as on a teacher's laptop: seconds and peak memory (checking, a throwaway instance, the
  import, the export), and whether it writes the same bytes as the database did;
* the booklets' size next to the bundle's, and the bundle path's time next to the database's.

Data sets: the sample content of ``content/`` (every country), and the real corpus (the France
curriculum of ``content/`` and the four course sites of ``../shared/corpus`` through
``imaginecole content import-course``). MB means 10^6 bytes.

    .venv/bin/python bench/booklets.py
    .venv/bin/python bench/booklets.py --no-corpus

Everything is written under one temporary folder, removed at the end, even on Ctrl+C.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    REPO_ROOT,
    clean_environment,
    console_script,
    load_corpus,
    log,
    print_machine,
    remove_unless_kept,
    this_machine,
)

SAMPLE_CONTENT = REPO_ROOT / "content"
TIMEOUT = 3600.0


@dataclass
class Export:
    seconds: float
    peak_mb: float  # the command's peak memory (resident)
    files: int
    bytes: int
    largest: int
    digest: str  # of every file's name and bytes: equal digests, equal exports


@dataclass
class CountryFigures:
    data_set: str
    country: str
    modules: int
    database: Export
    database_again_identical: bool
    bundle_bytes: int
    bundle: Export
    bundle_identical: bool


@dataclass
class Run:
    python: str
    machine: str
    cpus: int
    start_s: float = 0.0  # `imaginecole db current`: starting the command and the app
    start_mb: float = 0.0
    countries: list[CountryFigures] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run(arguments: list[str], data_dir: Path | None, cwd: Path) -> tuple[list[str], float, int]:
    """Run ``imaginecole ARGUMENTS``; return its output lines, seconds and peak memory (bytes).

    With no ``data_dir``, the command runs with no IMAGINECOLE_* setting at all.
    """
    env = clean_environment(data_dir or cwd)
    if data_dir is None:
        del env["IMAGINECOLE_DATA_DIR"]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [console_script(), *arguments],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=output,
            text=True,
        )
        watchdog = threading.Timer(TIMEOUT, process.kill)
        watchdog.start()
        # wait4 gives this one process's peak memory, where getrusage gives the largest of all.
        _pid, status, usage = os.wait4(process.pid, 0)
        watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        output.seek(0)
        lines = output.read().splitlines()
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    if process.returncode != 0:
        raise RuntimeError(f"imaginecole {' '.join(arguments)} failed:\n" + "\n".join(lines[-10:]))
    return lines, seconds, peak


def exported(out: Path, seconds: float, peak: int) -> Export:
    files = sorted(out.iterdir())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    sizes = [path.stat().st_size for path in files]
    return Export(
        round(seconds, 2),
        round(peak / 1e6, 1),
        len(files),
        sum(sizes),
        max(sizes, default=0),
        digest.hexdigest(),
    )


def set_up_sample(national: Path) -> list[str]:
    """Load the sample content; return the countries that have modules (France has none)."""
    run(["content", "load", str(SAMPLE_CONTENT)], national, national)
    return sorted(p.parent.name for p in SAMPLE_CONTENT.glob("*/modules") if any(p.iterdir()))


def module_count(lines: list[str]) -> int:
    return sum(
        int(line.split("(")[1].split()[0]) for line in lines if line.startswith("[") and "(" in line
    )


def measure(data_set: str, national: Path, work: Path, countries: list[str], report: Run) -> None:
    run(["keys", "generate"], national, national)
    for country in countries:
        log(f"{data_set} {country}: booklets from the database")
        export = ["export", "booklets", "--country", country, "--out"]
        out = work / f"{data_set}-{country}-database"
        lines, seconds, peak = run([*export, str(out)], national, national)
        database = exported(out, seconds, peak)
        again = work / f"{data_set}-{country}-again"
        run([*export, str(again)], national, national)
        run(["bundle", "build", "--country", country], national, national)
        bundle = national / "bundles" / f"{country}-main-v1.icb"
        log(f"{data_set} {country}: booklets from the bundle, with no settings")
        laptop = work / f"{data_set}-{country}-laptop"
        laptop.mkdir()
        from_bundle = laptop / "booklets"
        _, seconds, peak = run([*export, str(from_bundle), "--bundle", str(bundle)], None, laptop)
        by_bundle = exported(from_bundle, seconds, peak)
        report.countries.append(
            CountryFigures(
                data_set,
                country,
                module_count(lines),
                database,
                exported(again, 0, 0).digest == database.digest,
                bundle.stat().st_size,
                by_bundle,
                by_bundle.digest == database.digest,
            )
        )


def measure_start(national: Path, report: Run) -> None:
    """Time a command that only starts the app and reads the database: the floor of every export."""
    _, seconds, peak = run(["db", "current"], national, national)
    report.start_s, report.start_mb = round(seconds, 2), round(peak / 1e6, 1)


def mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:7.2f}"


def print_report(report: Run) -> None:
    print("Printed booklets: `imaginecole export booklets`, one HTML file per class and subject")
    print_machine(report)
    print(
        f"  starting the command and the app (`imaginecole db current`): {report.start_s:.2f} s, "
        f"{report.start_mb:.0f} MB"
    )
    print(
        f"  {'set':7} {'cc':3} {'mods':>5} {'files':>5} {'MB':>7} {'largest':>7} {'db s':>6} "
        f"{'db MB':>6} {'same':>4} {'bundle':>7} {'bu s':>6} {'bu MB':>6} {'same':>4} "
        f"{'bk/bu':>5} {'s bu/db':>7}"
    )
    for c in report.countries:
        ratio_size = c.database.bytes / c.bundle_bytes if c.bundle_bytes else 0
        ratio_time = c.bundle.seconds / c.database.seconds if c.database.seconds else 0
        print(
            f"  {c.data_set:7} {c.country:3} {c.modules:5} {c.database.files:5} "
            f"{mb(c.database.bytes)} {mb(c.database.largest)} {c.database.seconds:6.2f} "
            f"{c.database.peak_mb:6.0f} {'yes' if c.database_again_identical else 'NO':>4} "
            f"{mb(c.bundle_bytes)} {c.bundle.seconds:6.2f} {c.bundle.peak_mb:6.0f} "
            f"{'yes' if c.bundle_identical else 'NO':>4} {ratio_size:5.2f} {ratio_time:7.2f}"
        )
    print(
        "  mods: modules exported; MB, largest: the booklets' total and largest size; db s, db MB:\n"
        "  seconds and peak memory from the database; same: a second run (or the bundle path)\n"
        "  wrote the same bytes; bundle: the full bundle's MB; bu s, bu MB: seconds and peak\n"
        "  memory from that bundle on a laptop with no settings (check, throwaway instance,\n"
        "  import, export); bk/bu: booklets' size over the bundle's; s bu/db: time ratio."
    )
    for note in report.notes:
        print(f"  note: {note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark printed booklets: export time and size from the database and "
        "from a bundle with no settings, on the sample content and the real corpus."
    )
    parser.add_argument("--no-corpus", action="store_true", help="the sample content only")
    parser.add_argument("--no-sample", action="store_true", help="the real corpus only")
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS, help="default: %(default)s"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = Run(**this_machine())
    root = Path(tempfile.mkdtemp(prefix="bench-booklets-"))
    try:
        if not args.no_sample:
            national = root / "sample-national"
            national.mkdir()
            log("sample content: loading")
            countries = set_up_sample(national)
            measure_start(national, report)
            measure("sample", national, root, countries, report)
        if not args.no_corpus:
            if args.corpus_dir.is_dir():
                national = root / "corpus-national"
                national.mkdir()
                log("corpus: loading (content load, import-course)")
                load_corpus(national, args.corpus_dir, TIMEOUT, report.notes)
                countries = ["fr"]
                if not report.start_s:
                    measure_start(national, report)
                measure("corpus", national, root, countries, report)
            else:
                report.notes.append(f"corpus: {args.corpus_dir} not found, left out")
    finally:
        remove_unless_kept(root, args.keep)
    print_report(report)


if __name__ == "__main__":
    main()
