"""Measure how many readers one ``imaginecole serve`` can take, and its memory.

Loads content into a fresh temporary data directory, starts the real server in a subprocess on
127.0.0.1, then for the home page, a module page and a lesson page measures requests per second
and latency (p50, p95) at several numbers of concurrent clients, each client a thread with its
own keep-alive connection. Prints a table; ``--json PATH`` also writes the figures.

The server runs as ``imaginecole serve`` does: several worker processes (granian) where the
system allows it; ``--workers`` and ``--threads`` override its settings. Its memory is summed
over all its processes.

    .venv/bin/python bench/serve.py
    .venv/bin/python bench/serve.py --corpus --duration 10 --json figures.json

The clients run on the same machine as the server: on a small machine they share its CPUs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Run as `python bench/serve.py`: bench/common.py, beside this script, must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CORPUS_COURSES,
    DEFAULT_CORPUS,
    REPO_ROOT,
    Server,
    add_server_options,
    get,
    load_corpus,
    log,
    percentile_ms,
    print_machine,
    remove_unless_kept,
    run_clients,
    this_machine,
    write_json,
)

DEFAULT_CONTENT = REPO_ROOT / "content"
DEFAULT_LEVELS = (1, 20, 85)
START_TIMEOUT = 30.0  # seconds for the server to answer
REQUEST_TIMEOUT = 10.0  # seconds for a single request outside the load


@dataclass
class Page:
    name: str
    path: str
    bytes: int = 0


@dataclass
class Result:
    page: str
    path: str
    clients: int
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


@dataclass
class Memory:  # summed over the server's processes
    idle_rss_kb: int = 0
    loaded_rss_kb: int = 0
    peak_rss_kb: int = 0
    idle_pss_kb: int = 0  # shared pages split between the processes: the real cost
    loaded_pss_kb: int = 0


@dataclass
class Run:
    python: str
    machine: str
    cpus: int
    content: str
    corpus: str
    loaded: dict = field(default_factory=dict)
    server_workers: str = "default"
    server_threads: str = "default"  # per worker
    duration_s: float = 0.0
    max_requests: int = 0
    pages: list[Page] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)


# ----------------------------------------------------------------------------- content


def load_content(data_dir: Path, content: Path) -> dict:
    """Load ``content`` into a fresh app on ``data_dir``; modules with problems are left out."""
    for name in [name for name in os.environ if name.startswith("IMAGINECOLE_")]:
        del os.environ[name]  # a DATABASE_URL of this machine must never be written to
    os.environ["IMAGINECOLE_DATA_DIR"] = str(data_dir)
    from imaginecole.app import create_app
    from imaginecole.content.operations import load_tree
    from imaginecole.extensions import db
    from imaginecole.schema import ensure_schema
    from imaginecole.search.indexing import sync_index
    from sync.content import read_content

    app = create_app({"DATA_DIR": str(data_dir)})
    ensure_schema(app)
    with app.app_context():
        report = load_tree(read_content(content))
        db.session.commit()
        sync_index()
    problems = len(report.problems)
    log(
        f"Loaded {content}: {report.modules_added} modules, {report.lessons_loaded} lessons"
        + (f" ({problems} problems: those modules were left out)" if problems else "")
    )
    return {"modules": report.modules_added, "lessons": report.lessons_loaded, "problems": problems}


def pick_pages(data_dir: Path, lang: str) -> tuple[list[Page], dict]:
    """Pick the home page, the module with most lessons and its largest lesson."""
    from sqlalchemy import func, select

    from imaginecole.app import create_app
    from imaginecole.content.models import Lesson, Module
    from imaginecole.curriculum.models import Country
    from imaginecole.extensions import db

    app = create_app({"DATA_DIR": str(data_dir)})
    with app.app_context(), app.test_request_context():
        from flask import url_for

        counts = {
            "countries": db.session.scalar(select(func.count(Country.code))),
            "modules": db.session.scalar(
                select(func.count(Module.id)).where(Module.published.is_(True))
            ),
            "lessons": db.session.scalar(
                select(func.count(Lesson.id))
                .join(Module, Lesson.module_id == Module.id)
                .where(Module.published.is_(True))
            ),
        }
        pages = [Page("home", url_for("catalog.home", lang=lang))]
        modules = db.session.scalars(
            select(Module).where(Module.published.is_(True)).order_by(Module.uid)
        ).all()
        with_lessons = [module for module in modules if module.lessons]
        if with_lessons:
            module = max(with_lessons, key=lambda m: len(m.lessons))
            lesson = max(module.lessons, key=lambda item: len(item.text_in(lang).html))
            pages.append(Page("module", url_for("catalog.module", lang=lang, uid=module.uid)))
            pages.append(
                Page(
                    "lesson",
                    url_for("catalog.lesson", lang=lang, uid=module.uid, slug=lesson.slug),
                )
            )
        db.session.remove()
        db.engine.dispose()
    return pages, counts


# ----------------------------------------------------------------------------- load


def measure(
    port: int, page: Page, clients: int, duration: float, max_requests: int, timeout: float
) -> Result:
    """Run ``clients`` keep-alive clients on ``page`` for ``duration`` s or ``max_requests``."""
    load = run_clients(
        port,
        clients,
        duration,
        timeout,
        lambda number: page.path if number < max_requests else None,  # a shared budget
    )
    if load.unfinished:
        log(f"  warning: some clients of {page.name} × {clients} did not finish in time")
    values = sorted(load.ok + load.other)
    done = len(values)
    return Result(
        page=page.name,
        path=page.path,
        clients=clients,
        requests=done,
        errors=load.errors,
        seconds=round(load.seconds, 3),
        requests_per_second=round(done / load.seconds, 1) if load.seconds else 0.0,
        p50_ms=percentile_ms(values, 0.50),
        p95_ms=percentile_ms(values, 0.95),
        max_ms=percentile_ms(values, 1.0),
    )


# ----------------------------------------------------------------------------- report


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB" if kb else "n/a"


def print_report(run: Run) -> None:
    print()
    print("Imaginecole: `imaginecole serve` on 127.0.0.1")
    print_machine(run)
    print(f"  content  {run.content}" + (f" + corpus {run.corpus}" if run.corpus else ""))
    loaded = run.loaded
    print(
        f"  loaded   {loaded.get('countries', '?')} countries, {loaded.get('modules', '?')} "
        f"modules, {loaded.get('lessons', '?')} lessons"
    )
    print(
        f"  server   workers: {run.server_workers}, threads per worker: {run.server_threads}; "
        f"each level runs {run.duration_s:g} s or {run.max_requests} requests"
    )
    print()
    width = max(len(page.path) for page in run.pages)
    for page in run.pages:
        print(f"  {page.name:<7} {page.path:<{width}}  {page.bytes / 1024:7.1f} kB")
    print()
    header = (
        f"{'page':<8}{'clients':>8}{'requests':>10}{'errors':>8}{'req/s':>10}"
        f"{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in run.results:
        times = "".join(
            f"{value:>10.2f}" if value is not None else f"{'n/a':>10}"
            for value in (r.p50_ms, r.p95_ms, r.max_ms)
        )
        print(
            f"{r.page:<8}{r.clients:>8}{r.requests:>10}{r.errors:>8}"
            f"{r.requests_per_second:>10.1f}{times}"
        )
    print("-" * len(header))
    memory = run.memory
    print(
        f"server memory, all processes: PSS idle after start {mb(memory.idle_pss_kb)}, after "
        f"the load {mb(memory.loaded_pss_kb)}; RSS summed (shared pages counted per process) "
        f"{mb(memory.idle_rss_kb)} and {mb(memory.loaded_rss_kb)} (peaks {mb(memory.peak_rss_kb)})"
    )


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark `imaginecole serve`: requests/s and latency p50/p95 for the home, a "
            "module and a lesson page at several numbers of concurrent clients, and the "
            "server's memory (all its processes). Uses a fresh temporary data directory; the "
            "server listens on 127.0.0.1 only and is always stopped at the end."
        )
    )
    parser.add_argument(
        "--content",
        type=Path,
        default=DEFAULT_CONTENT,
        help="content folder to load (default: the sample content, %(default)s)",
    )
    parser.add_argument(
        "--corpus",
        action="store_true",
        help="also load the France curriculum and import the real course corpus with "
        "`imaginecole content import-course`, as every benchmark loads it",
    )
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=DEFAULT_CORPUS,
        help="where the corpus is (default: %(default)s)",
    )
    parser.add_argument(
        "--corpus-timeout",
        type=float,
        default=900.0,
        help="time limit in seconds for each command of the corpus import (default: %(default)s)",
    )
    parser.add_argument(
        "--clients",
        default=",".join(str(n) for n in DEFAULT_LEVELS),
        help="comma-separated numbers of concurrent clients (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="seconds per page and number of clients (default: %(default)s)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=50_000,
        help="stop a level after this many requests (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds a single request may take before it counts as an error "
        "(default: %(default)s)",
    )
    add_server_options(parser)
    parser.add_argument(
        "--lang", default="fr", choices=("fr", "en", "ar"), help="page language (default: fr)"
    )
    parser.add_argument(
        "--page",
        dest="pages",
        action="append",
        default=[],
        metavar="PATH",
        help="measure this path instead of the automatic pick (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data directory (its path is shown)"
    )
    args = parser.parse_args(argv)
    try:
        args.levels = [int(n) for n in args.clients.split(",") if n.strip()]
    except ValueError:
        parser.error("--clients takes numbers separated by commas, e.g. 1,20,85")
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 500:
        parser.error("--clients must be between 1 and 500")
    if args.duration <= 0 or args.duration > 600:
        parser.error("--duration must be between 0 and 600 seconds")
    if not args.content.is_dir():
        parser.error(f"{args.content} is not a folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(
        **this_machine(),
        content=str(args.content),
        corpus=str(args.corpus_dir) if args.corpus else "",
        server_workers=str(args.workers or "default"),
        server_threads=str(args.threads or "default"),
        duration_s=args.duration,
        max_requests=args.max_requests,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="imaginecole-bench-"))
    server = None
    try:
        load_content(data_dir, args.content)
        if args.corpus:
            notes: list[str] = []
            imported = load_corpus(data_dir, args.corpus_dir, args.corpus_timeout, notes)
            run.corpus += f" ({len(imported)} of {len(CORPUS_COURSES)} course sites imported)"
        pages, run.loaded = pick_pages(data_dir, args.lang)
        if args.pages:
            pages = [Page(f"page{i + 1}", path) for i, path in enumerate(args.pages)]
        run.pages = pages

        server = Server(data_dir, "server.log", workers=args.workers, threads=args.threads)
        server.wait_ready(
            "/",
            ready=lambda status: status < 500,
            timeout=START_TIMEOUT,
            pause=0.1,
            request_timeout=REQUEST_TIMEOUT,
        )
        time.sleep(0.5)
        run.memory.idle_rss_kb = server.memory_kb("VmRSS")
        run.memory.idle_pss_kb = server.proportional_memory_kb()
        with server.log_path.open() as first_lines:
            log(f"Server pid {server.pid}: {first_lines.readline().strip()}")

        for page in pages:
            status, body = get(server.port, page.path, REQUEST_TIMEOUT)
            if status != 200:
                raise RuntimeError(f"{page.path} answered {status}:\n{server.log_tail()}")
            page.bytes = len(body)
            for _ in range(10):  # warm up: templates, database pages, translations
                get(server.port, page.path, REQUEST_TIMEOUT)

        for page in pages:
            for clients in args.levels:
                log(f"  {page.name} {page.path} with {clients} clients …")
                result = measure(
                    server.port, page, clients, args.duration, args.max_requests, args.timeout
                )
                run.results.append(result)
                if server.process.poll() is not None:
                    raise RuntimeError("the server stopped during the load:\n" + server.log_tail())
        run.memory.loaded_rss_kb = server.memory_kb("VmRSS")
        run.memory.loaded_pss_kb = server.proportional_memory_kb()
        run.memory.peak_rss_kb = server.memory_kb("VmHWM")

        print_report(run)
        if args.json:
            write_json(args.json, run)
        return 0
    except (RuntimeError, OSError, http.client.HTTPException) as error:
        log(f"Benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("Interrupted.")
        return 130
    finally:
        if server is not None:
            server.stop()
        remove_unless_kept(data_dir, args.keep, "Data directory")


if __name__ == "__main__":
    sys.exit(main())
