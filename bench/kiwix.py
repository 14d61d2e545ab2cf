"""Measure `imaginecole serve` and kiwix-serve side by side, on the same corpus, in one run.

Schools run kiwix-serve today; this prints how Imaginecole compares, as ratios:

* lesson pages with wrk at 1, 20 and 85 connections (every lesson of the corpus in turn, after
  one warm-up pass over all of them on both servers): requests/s and p95;
* search with distinct queries (two words of the corpus, never repeated in a run, so no answer
  comes from a cache) at 20 connections;
* memory: PSS summed over all the server's processes, idle after start and after the load;
* a run of 85 readers on lesson pages while full bundles are imported with
  `imaginecole bundle import`, counting every answer that is not 2xx and every socket error.

The national side loads the France curriculum and imports the four course sites of the corpus
with the real commands, builds a full bundle, then edits 2 % of the lessons and builds another,
``--imports`` times (once: later runs with the same ``--work`` reuse them); a fresh school
imports the first bundle and serves. kiwix-serve serves a ZIM
built from the same corpus by the harness in ``../shared/peers/kiwix`` (its ``corpus_to_zim.py``,
in its own virtual environment). Both listen on 127.0.0.1 only, on ``--port`` and the next port,
and are stopped at the end (by their process ids).

    apt-get install -y kiwix-tools wrk
    .venv/bin/python bench/kiwix.py --port 8310 --work /var/tmp/kiwix-vs --keep
    .venv/bin/python bench/kiwix.py --port 8310 --work /var/tmp/kiwix-vs --keep   # reuses the set-up

The clients (wrk) run on the same machine as the servers and share its CPUs.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundles as bundle_bench  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    REPO_ROOT,
    Server,
    get,
    log,
    open_app,
    rollup_kb,
    run_cli,
)

HARNESS = REPO_ROOT.parent / "shared" / "peers" / "kiwix"
ZIM_NAME = "nsi_lecons_fr"
READY_MARK = "ready.json"
START_TIMEOUT = 60.0

LUA = r"""
local paths = {PATHS}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  i = math.floor(tid * #paths / 2)
  non2xx = 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency.max))
end
"""


# ----------------------------------------------------------------------------- set-up


def set_up(work: Path, corpus: Path, imports: int, timeout: float) -> dict:
    """Make the national server, its bundles and the school server; return what was made."""
    national_dir, bundles_dir = work / "national", work / "bundles"
    for folder in (national_dir, bundles_dir):
        shutil.rmtree(folder, ignore_errors=True)
    national_dir.mkdir(parents=True)
    bundles_dir.mkdir()
    data = types.SimpleNamespace(notes=[], source=types.SimpleNamespace())
    bundle_bench.set_up_corpus(national_dir, corpus, data, timeout)
    national = open_app(national_dir)
    paths = [str(bundle_bench.build(national, "fr", bundles_dir)[0])]
    for number in range(imports):
        delta = bundle_bench.Delta()
        bundle_bench.edit_lessons(national, "fr", 2.0, number + 1, delta)
        paths.append(str(bundle_bench.build(national, "fr", bundles_dir)[0]))
        log(f"  bundle {len(paths)}: {delta.lessons_changed} lessons changed")
    made = {"bundles": paths, "notes": data.notes}
    (work / READY_MARK).write_text(json.dumps(made, indent=1))
    return made


def set_up_school(work: Path, made: dict, timeout: float) -> Path:
    """Make a fresh school server with the first bundle installed (each run: it imports more)."""
    school_dir = work / "school"
    shutil.rmtree(school_dir, ignore_errors=True)
    bundle_bench.make_school(school_dir, work / "national", "fr")
    code, lines = import_bundle(school_dir, Path(made["bundles"][0]), timeout)
    if code != 0:
        raise RuntimeError("the first bundle import failed:\n" + "\n".join(lines[-10:]))
    return school_dir


def import_bundle(data_dir: Path, bundle: Path, timeout: float) -> tuple[int, list[str]]:
    code, lines, _seconds = run_cli(["bundle", "import", str(bundle)], data_dir, timeout)
    return code, lines


def lesson_paths(school_dir: Path) -> list[str]:
    """Every lesson of the school's published modules, in French."""
    from sqlalchemy import select

    from imaginecole.content.models import Lesson, Module
    from imaginecole.extensions import db

    app = open_app(school_dir)
    with app.app_context(), app.test_request_context():
        from flask import url_for

        rows = db.session.execute(
            select(Module.uid, Lesson.slug)
            .join(Lesson, Lesson.module_id == Module.id)
            .where(Module.published.is_(True))
            .order_by(Module.uid, Lesson.position)
        ).all()
        paths = [url_for("catalog.lesson", lang="fr", uid=uid, slug=slug) for uid, slug in rows]
        db.session.remove()
        db.engine.dispose()
    return paths


def build_zim(kiwix_work: Path, corpus: Path) -> Path:
    """Build the corpus's ZIM with the harness, once; return its path."""
    zim = kiwix_work / f"{ZIM_NAME}.zim"
    if zim.exists() and zim.stat().st_size:
        return zim
    python = kiwix_work / "venv" / "bin" / "python"
    if not python.exists():
        log("  creating the harness's virtual environment (libzim, markdown-it-py) …")
        subprocess.run([sys.executable, "-m", "venv", str(kiwix_work / "venv")], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "libzim", "markdown-it-py"]
            + ["mdit-py-plugins"],
            check=True,
        )
    log(f"  building {zim} …")
    subprocess.run(
        [str(python), str(HARNESS / "corpus_to_zim.py"), str(corpus), str(zim), "--name", ZIM_NAME],
        check=True,
        capture_output=True,
    )
    return zim


# ----------------------------------------------------------------------------- kiwix-serve


class Kiwix:
    def __init__(self, zim: Path, port: int, log_path: Path) -> None:
        self.port = port
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(
                ["kiwix-serve", "-i", "127.0.0.1", "-p", str(port), "-t", "4", str(zim)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("kiwix-serve stopped at start")
            try:
                if get(self.port, "/", 5)[0] < 500:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("kiwix-serve did not answer")

    def pss_kb(self) -> int:
        return rollup_kb(self.pid, "Pss")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def discover(self) -> tuple[list[str], str]:
        """Return the ZIM's lesson paths (from its main page) and the search path prefix."""
        catalog = get(self.port, "/catalog/v2/entries", 10)[1].decode("utf-8", "replace")
        book = re.search(r"<name>([^<]+)</name>", catalog).group(1)
        href = re.search(r'<link type="text/html" href="([^"]+)"', catalog)
        root = href.group(1) if href else f"/{book}"
        main = self._follow(root)
        page = get(self.port, main, 10)[1].decode("utf-8", "replace")
        prefix = main.rsplit("/", 1)[0] + "/"
        lessons = []
        for link in re.findall(r'<a\s[^>]*href="([^"#]+)"', page):
            joined = urllib.parse.urljoin(main, html.unescape(link))
            path = urllib.parse.urlsplit(joined).path
            if path.startswith(prefix) and path.endswith(".html") and path != main:
                quoted = urllib.parse.quote(urllib.parse.unquote(path), safe="/._-~")
                if quoted not in lessons:
                    lessons.append(quoted)
        return lessons, f"/search?content={urllib.parse.quote(book)}&pattern="

    def _follow(self, path: str) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        location = response.getheader("Location")
        return urllib.parse.urlsplit(location).path if location else path


# ----------------------------------------------------------------------------- load


def wrk(port: int, paths: list[str], connections: int, seconds: float, script: Path) -> dict:
    listed = ",\n".join(json.dumps(path) for path in paths)
    script.write_text(LUA.replace("{PATHS}", "{" + listed + "}"))
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}/"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120).stdout
    found = re.search(r"^WRKJSON (.*)$", out, re.M)
    if not found:
        raise RuntimeError("wrk gave no figures:\n" + out[-800:])
    figures = json.loads(found.group(1))
    return {
        "requests": figures["requests"],
        "req_per_s": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p95_ms": round(figures["p95_us"] / 1000, 2),
        "max_ms": round(figures["max_us"] / 1000, 2),
        "non_2xx": figures["non2xx"],
        "socket_errors": figures["socket_errors"],
        "timeouts": figures["timeouts"],
    }


def warm(port: int, paths: list[str]) -> float:
    """Fetch every path once, in turn; return the seconds it took."""
    started = time.perf_counter()
    for path in paths:
        status = get(port, path, 30)[0]
        if status != 200:
            raise RuntimeError(f"{path} answered {status} on port {port}")
    return time.perf_counter() - started


def distinct_queries(corpus: Path, count: int, seed: int) -> list[str]:
    """Two words of the corpus's lessons per query, ``count`` different queries."""
    words: set[str] = set()
    for path in sorted(corpus.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        words.update(re.findall(r"[a-zàâçéèêëîïôûùüÿœ]{5,14}", text))
    vocabulary = sorted(words)
    rng = random.Random(seed)
    queries: set[str] = set()
    while len(queries) < count:
        queries.add(f"{rng.choice(vocabulary)} {rng.choice(vocabulary)}")
    return sorted(queries, key=lambda _: rng.random())


def quoted(text: str) -> str:
    return urllib.parse.quote_plus(text)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs else "n/a"


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8310, help="Imaginecole's port; kiwix +1")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,20,85", help="page-load connection counts")
    parser.add_argument("--search-connections", type=int, default=20)
    parser.add_argument("--imports", type=int, default=3, help="bundles imported under load")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--work", type=Path, help="working folder (reused when set up)")
    parser.add_argument(
        "--kiwix-work", type=Path, default=Path(tempfile.gettempdir()) / "kiwix-peer-bench"
    )
    parser.add_argument("--workers", type=int, help="server worker processes (default: setting)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    args.levels = [int(n) for n in args.connections.split(",") if n.strip()]
    if not 0 < args.duration <= 120 or not 0 <= args.imports <= 20:
        parser.error("--duration is 1 to 120 seconds and --imports 0 to 20")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk") or not shutil.which("kiwix-serve"):
        sys.exit("wrk and kiwix-serve are needed: apt-get install -y kiwix-tools wrk")
    work = args.work or Path(tempfile.mkdtemp(prefix="imaginecole-kiwix-"))
    work.mkdir(parents=True, exist_ok=True)
    args.kiwix_work.mkdir(parents=True, exist_ok=True)
    ours = theirs = None
    figures: dict = {"pages": {}, "search": {}, "memory_pss_mb": {}}
    try:
        if (work / READY_MARK).exists():
            made = json.loads((work / READY_MARK).read_text())
            log(f"Reusing the set-up in {work}")
        else:
            log(f"Setting up in {work} (the corpus is imported; this takes minutes) …")
            made = set_up(work, args.corpus, args.imports, timeout=1800)
        zim = build_zim(args.kiwix_work, args.corpus)
        school = set_up_school(work, made, timeout=1800)
        our_lessons = lesson_paths(school)

        ours = Server(school, "server.log", workers=args.workers, port=args.port)
        ours.wait_ready("/fr/", lambda s: s == 200, START_TIMEOUT, 0.2, 10)
        theirs = Kiwix(zim, args.port + 1, work / "kiwix.log")
        theirs.wait_ready()
        their_lessons, their_search = theirs.discover()
        time.sleep(1)
        figures["memory_pss_mb"]["idle"] = (
            round(ours.proportional_memory_kb() / 1024, 1),
            round(theirs.pss_kb() / 1024, 1),
        )
        figures["lessons"] = (len(our_lessons), len(their_lessons))
        figures["first_pass_s"] = (
            round(warm(ours.port, our_lessons), 2),
            round(warm(theirs.port, their_lessons), 2),
        )
        script = work / "load.lua"
        for connections in args.levels:
            log(f"  lesson pages, {connections} connections …")
            figures["pages"][connections] = (
                wrk(ours.port, our_lessons, connections, args.duration, script),
                wrk(theirs.port, their_lessons, connections, args.duration, script),
            )
        queries = distinct_queries(args.corpus, 20000, seed=16)
        log(f"  search, {args.search_connections} connections, distinct queries …")
        figures["search"] = (
            wrk(
                ours.port,
                [f"/fr/search?q={quoted(q)}" for q in queries],
                args.search_connections,
                args.duration,
                script,
            ),
            wrk(
                theirs.port,
                [their_search + urllib.parse.quote(q) for q in queries],
                args.search_connections,
                args.duration,
                script,
            ),
        )
        time.sleep(1)
        figures["memory_pss_mb"]["after_load"] = (
            round(ours.proportional_memory_kb() / 1024, 1),
            round(theirs.pss_kb() / 1024, 1),
        )
        theirs.stop()
        figures["imports"] = load_while_importing(ours, our_lessons, made, args, script)
        figures["memory_pss_mb"]["after_imports"] = (
            round(ours.proportional_memory_kb() / 1024, 1),
            None,
        )
        report(figures, args)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        log(f"Benchmark failed: {error}")
        if ours is not None:
            log(ours.log_tail())
        return 1
    finally:
        for server in (ours, theirs):
            if server is not None:
                server.stop()
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def load_while_importing(ours: Server, lessons: list[str], made: dict, args, script) -> dict:
    """85 readers for as long as the bundles take to import (one after the other)."""
    results: dict = {"imported": 0, "failed": []}
    seconds = 600.0  # at most: the imports are stopped by their own time limit before that

    def importer() -> None:
        for bundle in made["bundles"][1:]:
            code, lines = import_bundle(ours.data_dir, Path(bundle), timeout=seconds * 4)
            if code == 0:
                results["imported"] += 1
            else:
                results["failed"].append(lines[-1] if lines else f"exit {code}")

    log(f"  85 readers while {len(made['bundles']) - 1} bundles import …")
    thread = threading.Thread(target=importer)
    thread.start()
    started = time.monotonic()
    runs = []
    # Runs of a few seconds until the imports are done: wrk cannot be told to stop otherwise.
    while thread.is_alive() and time.monotonic() - started < seconds:
        runs.append(wrk(ours.port, lessons, 85, 5, script))
    thread.join()
    total = sum(run["requests"] for run in runs)
    results["load"] = {
        "seconds": round(time.monotonic() - started, 1),
        "requests": total,
        "req_per_s": round(total / max(time.monotonic() - started, 0.001), 1),
        "p95_ms": max((run["p95_ms"] for run in runs), default=0),
        **{
            name: sum(run[name] for run in runs)
            for name in ("non_2xx", "socket_errors", "timeouts")
        },
    }
    errors = [line for line in ours.log_tail(400).splitlines() if "Error" in line]
    results["server_errors_logged"] = errors[-5:]
    return results


def report(figures: dict, args) -> None:
    print()
    print("Imaginecole (`imaginecole serve`) and kiwix-serve, same corpus, same run, wrk -t2")
    print(f"  lessons: {figures['lessons'][0]} (Imaginecole), {figures['lessons'][1]} (kiwix)")
    print(
        f"  first pass over every lesson, one at a time: {figures['first_pass_s'][0]} s and "
        f"{figures['first_pass_s'][1]} s"
    )
    print()
    header = f"{'':<24}{'Imaginecole':>22}{'kiwix-serve':>22}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for connections, (mine, peer) in figures["pages"].items():
        print(
            f"{'lessons, ' + str(connections) + ' conn.':<24}"
            f"{mine['req_per_s']:>10.0f} req/s{mine['p95_ms']:>6.1f}ms"
            f"{peer['req_per_s']:>10.0f} req/s{peer['p95_ms']:>6.1f}ms"
            f"{ratio(mine['req_per_s'], peer['req_per_s']):>8}"
        )
    mine, peer = figures["search"]
    print(
        f"{'search, distinct, ' + str(args.search_connections):<24}"
        f"{mine['req_per_s']:>10.0f} req/s{mine['p95_ms']:>6.1f}ms"
        f"{peer['req_per_s']:>10.0f} req/s{peer['p95_ms']:>6.1f}ms"
        f"{ratio(mine['req_per_s'], peer['req_per_s']):>8}"
    )
    memory = figures["memory_pss_mb"]
    print(
        f"{'memory PSS idle / load':<24}{memory['idle'][0]:>10} / {memory['after_load'][0]} MB"
        f"{memory['idle'][1]:>10} / {memory['after_load'][1]} MB"
    )
    print("-" * len(header))
    bad = {
        name: sum(mine[name] for mine, _ in figures["pages"].values())
        for name in ("non_2xx", "socket_errors")
    }
    print(f"Imaginecole answers not 2xx during the page runs: {bad}")
    imports = figures["imports"]
    load = imports["load"]
    print(
        f"85 readers while bundles import: {load['requests']} requests, "
        f"{load['req_per_s']:.0f} req/s, worst p95 of 5 s runs {load['p95_ms']} ms; not 2xx: {load['non_2xx']}, "
        f"socket errors: {load['socket_errors']}, timeouts: {load['timeouts']}; "
        f"bundles imported: {imports['imported']}, failed: {imports['failed'] or 'none'}; "
        f"memory after: {memory['after_imports'][0]} MB PSS"
    )
    for line in imports["server_errors_logged"]:
        print(f"  server log: {line}")


if __name__ == "__main__":
    sys.exit(main())
