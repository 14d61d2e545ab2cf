"""Fuzz every parser of outside input for a bounded number of inputs or time, and say how it went.

The targets are those of ``tests/fuzz/targets.py`` (containers, manifests, signatures, trust and
enrolment files, uploads, Markdown, exercises, search queries, OAI-PMH arguments, curriculum
files, submission text). Each runs in its own
process, so a crash or a leak in one cannot hide the others:

* with atheris installed (``pip install atheris``; Linux and macOS wheels), coverage-guided:
  the code of ``sync`` and ``imaginecole`` is instrumented and libFuzzer keeps the inputs that
  reach new code, starting from valid ones;
* otherwise (``--engine mutate``), random mutations of valid inputs and random bytes.

For each target it prints the inputs run, inputs/s and the crashes: an exception other than the
one the parser documents. Crashing inputs are written to ``--crashes`` to be replayed.

    .venv/bin/python bench/fuzz.py --seconds 10                 # the short run CI can afford
    .venv/bin/python bench/fuzz.py --inputs 1000000 --seconds 300 --json fuzz.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # the targets live with the tests

from tests.fuzz.names import TARGET_NAMES  # noqa: E402  (imports no code to fuzz)


@dataclass
class Result:
    target: str
    engine: str
    inputs: int
    seconds: float
    crashes: int
    coverage: int | None = None  # libFuzzer's count of covered edges (atheris only)
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------------------- in the child


def _mutation_run(name: str, inputs: int, seconds: float, work: Path, crashes: Path) -> Result:
    from tests.fuzz.targets import make_targets, mutate

    target = next(t for t in make_targets(work) if t.name == name)
    rng = random.Random(name)
    seen: dict[str, int] = {}
    start = time.monotonic()
    count = 0
    while count < inputs and time.monotonic() - start < seconds:
        if rng.random() < 0.1:
            data = rng.randbytes(rng.randint(0, 512))
        else:
            data = mutate(rng.choice(target.seeds), rng, target.seeds)
        count += 1
        try:
            target.check(data)
        except Exception as error:  # a crash: anything the parser does not document
            frame = traceback.extract_tb(error.__traceback__)[-1]
            key = f"{type(error).__name__} at {frame.filename}:{frame.lineno}"
            if key not in seen:
                seen[key] = count
                crashes.mkdir(parents=True, exist_ok=True)
                (crashes / f"{name}-{len(seen)}").write_bytes(data)
    elapsed = time.monotonic() - start
    return Result(name, "mutate", count, elapsed, len(seen), detail="; ".join(seen))


def libfuzzer_dictionary(tokens: list[bytes]) -> str:
    """Return libFuzzer's dictionary of the tokens it can hold (64 bytes at most each)."""
    lines = []
    for token in tokens:
        if len(token) <= 64:
            escaped = "".join(
                chr(byte) if 32 <= byte < 127 and byte not in b'"\\' else f"\\x{byte:02x}"
                for byte in token
            )
            lines.append(f'"{escaped}"')
    return "\n".join(lines) + "\n"


def _atheris_run(name: str, inputs: int, seconds: float, work: Path, crashes: Path) -> None:
    import atheris

    with atheris.instrument_imports(include=["sync", "imaginecole"]):
        from tests.fuzz.targets import INTERESTING, make_targets

    target = next(t for t in make_targets(work) if t.name == name)
    corpus = work / f"corpus-{name}"
    corpus.mkdir(exist_ok=True)
    for number, seed in enumerate(target.seeds):
        (corpus / f"seed-{number}").write_bytes(seed)
    crashes.mkdir(parents=True, exist_ok=True)
    longest = max(len(seed) for seed in target.seeds)
    dictionary = work / "dictionary"
    dictionary.write_text(libfuzzer_dictionary(INTERESTING), encoding="ascii")
    atheris.Setup(
        [
            sys.argv[0],
            f"-dict={dictionary}",
            f"-runs={inputs}",
            f"-max_total_time={int(seconds)}",
            f"-max_len={max(4096, 2 * longest)}",
            "-timeout=30",
            "-print_final_stats=1",
            f"-artifact_prefix={crashes}/{name}-",
            str(corpus),
        ],
        target.check,
    )
    atheris.Fuzz()  # exits the process


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    if args.engine == "atheris":
        _atheris_run(args.child, args.inputs, args.seconds, work, Path(args.crashes))
    result = _mutation_run(args.child, args.inputs, args.seconds, work, Path(args.crashes))
    print("RESULT " + json.dumps(asdict(result)), flush=True)


# ---------------------------------------------------------------------------- in the parent


def run_target(name: str, args: argparse.Namespace, engine: str, work: Path) -> Result:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name]
    command += ["--inputs", str(args.inputs), "--seconds", str(args.seconds)]
    command += ["--engine", engine, "--work", str(work / name), "--crashes", str(args.crashes)]
    start = time.monotonic()
    # Files the parsers make for themselves go to the run's folder too (in memory, see below).
    environment = {**os.environ, "TMPDIR": str(work)}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=environment)
    elapsed = time.monotonic() - start
    if engine == "mutate":
        found = re.search(r"^RESULT (.*)$", done.stdout, re.MULTILINE)
        if found is None:
            return Result(name, engine, 0, elapsed, 1, detail=done.stderr.strip()[-500:])
        return Result(**json.loads(found.group(1)))
    # libFuzzer's final statistics, on stderr.
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", done.stderr)
    took = re.findall(r"Done (\d+) runs in (\d+) second", done.stderr)
    coverage = re.findall(r"cov: (\d+)", done.stderr)
    crashed = done.returncode != 0
    detail = ""
    if crashed:
        # libFuzzer's log, the Python traceback of the crash included, next to the input.
        log = Path(args.crashes) / f"{name}.log"
        log.write_text(done.stderr, encoding="utf-8")
        exception = re.search(r"=== Uncaught Python exception: ===\n(.*?)\n\n", done.stderr, re.S)
        detail = (exception.group(1) if exception else done.stderr[-300:]).replace("\n", " | ")
        detail += f" (log: {log})"
    return Result(
        name,
        engine,
        int(runs[-1]) if runs else int(took[-1][0]) if took else 0,
        float(took[-1][1]) if took and not crashed else elapsed,
        int(crashed),
        int(coverage[-1]) if coverage else None,
        detail,
    )


def memory_folder() -> str | None:
    """Return a folder in memory for the targets' files, or None for the usual temporary one.

    The container targets write every input to a file: on a disk, opening files costs more
    than parsing them (trust files ran 30 times slower), so the run would measure the disk.
    """
    shm = Path("/dev/shm")  # noqa: S108  (TemporaryDirectory makes a private folder in it)
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="most inputs per target")
    parser.add_argument("--seconds", type=float, default=10.0, help="most seconds per target")
    parser.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    parser.add_argument("--target", action="append", choices=TARGET_NAMES, help="only these")
    parser.add_argument("--crashes", default=str(REPO_ROOT / "fuzz-crashes"))
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "mutate"
        else:
            engine = "atheris"
    print(f"engine: {engine}; at most {args.inputs:,} inputs or {args.seconds:g} s per target")
    print(f"{'target':<20} {'inputs':>10} {'seconds':>8} {'inputs/s':>9} {'crashes':>7}  cov")
    results = []
    with tempfile.TemporaryDirectory(prefix="fuzz-", dir=memory_folder()) as folder:
        for name in args.target or TARGET_NAMES:
            result = run_target(name, args, engine, Path(folder))
            results.append(result)
            cov = "" if result.coverage is None else str(result.coverage)
            print(
                f"{name:<20} {result.inputs:>10,} {result.seconds:>8.0f} {result.rate:>9,.0f} "
                f"{result.crashes:>7}  {cov}",
                flush=True,
            )
            if result.detail and result.crashes:
                print(f"    {result.detail}", flush=True)
    total = sum(r.crashes for r in results)
    print(f"total: {sum(r.inputs for r in results):,} inputs, {total} crashing target(s)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
