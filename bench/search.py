"""Measure the search: index build rate, query latency, and queries per second over HTTP.

On the real corpus: loads the France curriculum into a fresh temporary data directory, imports
the four course sites of ../shared/corpus as ``imaginecole content import-course`` does, then

* times ``rebuild_index`` (database to index, as ``imaginecole search reindex``): lessons/s;
* runs a bounded list of distinct queries (words of the corpus titles) one at a time in the
  process: latency p50/p95;
* starts ``imaginecole serve`` on 127.0.0.1 and a free port and, with 20 clients
  (threads, each with its own keep-alive connection) sending distinct queries for a bounded
  time, measures queries/s and latency p50/p95 on ``/api/v1/search`` and ``/fr/search``.

Then the same index build and query latency on synthetic sets of 10,000 and 50,000 lessons made
from the corpus lessons (new ids and titles, sentences shuffled), written straight into an index
(``--synthetic-http`` also serves them over HTTP). Prints figures; ``--json PATH`` writes them.

The server runs as ``imaginecole serve`` does: several worker processes (granian) where the
system allows it; ``--workers`` and ``--threads`` override its settings.

    .venv/bin/python bench/search.py --quick
    .venv/bin/python bench/search.py --json search-figures.json

The clients run on the same machine as the server: on a small machine they share its CPUs.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

# Run as `python bench/search.py`: bench/common.py, beside this script, must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CORPUS_COURSES,
    DEFAULT_CORPUS,
    REPO_ROOT,
    Server,
    add_server_options,
    get,
    log,
    open_app,
    percentile_ms,
    print_machine,
    remove_unless_kept,
    run_clients,
    this_machine,
    write_json,
)

sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere

SINGLE_QUERIES = 150  # distinct queries timed one at a time (at least 100)
HTTP_QUERY_POOL = 20_000  # distinct queries the HTTP clients draw from, in order
LESSONS_PER_SYNTHETIC_MODULE = 10
START_TIMEOUT = 60.0  # seconds for the server to answer (it checks the index at start)
REQUEST_TIMEOUT = 30.0  # seconds for a single request outside the load


# ----------------------------------------------------------------------------- figures


@dataclass
class Latency:
    queries: int
    p50_ms: float | None
    p95_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    with_results: int = 0


@dataclass
class Build:
    lessons: int
    documents: int
    seconds: float
    lessons_per_s: float
    documents_per_s: float
    index_mb: float
    what: str


@dataclass
class HttpRun:
    path: str
    clients: int
    requests: int
    errors: int
    seconds: float
    queries_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    distinct_queries: int


@dataclass
class DataSet:
    name: str
    build: Build | None = None
    single: Latency | None = None
    http: list[HttpRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Run:
    python: str
    machine: str
    cpus: int
    corpus: str
    clients: int
    duration_s: float
    server_workers: str
    server_threads: str  # per worker
    sets: list[DataSet] = field(default_factory=list)


def folder_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return round(total / 1024 / 1024, 1)


# ----------------------------------------------------------------------------- the corpus


def import_corpus(app, corpus: Path) -> list[str]:
    """Load the France curriculum, then the four course sites, into ``app``."""
    from imaginecole.content.operations import load_tree
    from imaginecole.curriculum.queries import curriculum_of
    from imaginecole.extensions import db
    from imaginecole.search.indexing import sync_index
    from sync.content import ContentTree, read_content
    from sync.course import CourseOptions, read_course

    notes = []
    with app.app_context():
        france = read_content(REPO_ROOT / "content", countries=["fr"])
        if "fr" not in france.curricula:
            raise RuntimeError(f"the France curriculum does not load: {france.problems}")
        load_tree(ContentTree(curricula={"fr": france.curricula["fr"]}))
        curriculum = curriculum_of("fr")
        for folder, level, subject, licence in CORPUS_COURSES:
            started = time.perf_counter()
            options = CourseOptions(country="fr", levels=[level], subject=subject, licence=licence)
            tree = read_course(corpus / folder, curriculum, options)
            report = load_tree(tree)
            db.session.commit()
            sync_index()
            notes.append(
                f"{folder}: {report.modules_added} modules, {report.lessons_loaded} lessons "
                f"imported in {time.perf_counter() - started:.1f} s"
                + (f" ({len(report.problems)} problems)" if report.problems else "")
            )
            log(f"  {notes[-1]}")
    return notes


def corpus_documents(app):
    """Return the search documents of every published module, as the index gets them."""
    from imaginecole.search.documents import documents_for
    from imaginecole.search.indexing import _modules

    with app.app_context():
        return [doc for module in _modules() for doc in documents_for(module)]


def time_rebuild(app, documents: int) -> Build:
    """Time ``rebuild_index`` (database, documents, index) on the loaded app."""
    from sqlalchemy import func, select

    from imaginecole.content.models import LessonText, Module
    from imaginecole.extensions import db
    from imaginecole.search import search_index
    from imaginecole.search.indexing import rebuild_index

    with app.app_context():
        lessons = db.session.scalar(select(func.count(LessonText.id)))
        modules = db.session.scalar(select(func.count(Module.id)).where(Module.published.is_(True)))
        started = time.perf_counter()
        rebuild_index()
        seconds = time.perf_counter() - started
        directory = search_index().directory
    return Build(
        lessons=lessons,
        documents=documents,
        seconds=round(seconds, 2),
        lessons_per_s=round(lessons / seconds, 1),
        documents_per_s=round(documents / seconds, 1),
        index_mb=folder_mb(directory),
        what=f"rebuild_index: {modules} modules from the database",
    )


# ----------------------------------------------------------------------------- queries

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_GENERIC = {
    "activite", "activites", "chapitre", "cours", "exercices", "exercice", "fiche", "revision",
    "sommaire", "accueil", "theme", "projet", "partie", "introduction", "vers",
}  # fmt: skip


def fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).lower()


def title_words(documents) -> list[str]:
    """Distinct meaningful words of the corpus titles, in a stable order."""
    from imaginecole.search.analysis import FRENCH_STOP_WORDS

    words: dict[str, None] = {}
    for doc in documents:
        for word in _WORD.findall(doc.title):
            lower = word.lower().strip("'’-")
            if len(lower) >= 3 and lower not in FRENCH_STOP_WORDS and fold(lower) not in _GENERIC:
                words.setdefault(lower, None)
    return list(words)


def make_queries(documents, count: int, seed: int) -> list[str]:
    """Return ``count`` distinct queries a reader might type, built from the titles' words.

    Single words, pairs of words from the same title, and some typed without accents.
    """
    rng = random.Random(seed)
    words = title_words(documents)
    known = set(words)
    per_title = [
        [w.lower() for w in _WORD.findall(doc.title) if w.lower() in known] for doc in documents
    ]
    per_title = [ws for ws in per_title if len(ws) >= 2]
    queries: dict[str, None] = {}
    pool = list(words)
    rng.shuffle(pool)
    attempts = 0
    while len(queries) < count and attempts < count * 50:
        attempts += 1
        kind = attempts % 4
        if kind == 0 and pool:
            query = pool[attempts // 4 % len(pool)]
        elif kind in (1, 2) and per_title:
            first, second = rng.sample(rng.choice(per_title), 2)
            query = f"{first} {second}"
        else:
            query = f"{rng.choice(words)} {rng.choice(words)}"
        if rng.random() < 0.25:
            query = fold(query)
        queries.setdefault(query, None)
    return list(queries)[:count]


def time_queries(index, queries: list[str]) -> Latency:
    """Time each query once, in this process, as the search page asks it."""
    from imaginecole.search import SearchQuery

    for text in queries[:20]:  # warm up: open the index, fill the operating system's cache
        index.search(SearchQuery(text=text, prefer_lang="fr"))
    times = []
    with_results = 0
    for text in queries:
        started = time.perf_counter()
        results = index.search(SearchQuery(text=text, prefer_lang="fr"))
        times.append(time.perf_counter() - started)
        with_results += results.total > 0
    times.sort()
    return Latency(
        queries=len(times),
        p50_ms=percentile_ms(times, 0.50),
        p95_ms=percentile_ms(times, 0.95),
        mean_ms=round(statistics.mean(times) * 1000, 2),
        max_ms=percentile_ms(times, 1.0),
        with_results=with_results,
    )


# ----------------------------------------------------------------------------- synthetic sets


def synthetic_documents(corpus_docs, lessons: int, seed: int):
    """Yield ``lessons`` lesson documents (and one module document per 10) made from the corpus.

    Each copies a corpus lesson with a new id and title and its sentences shuffled, so terms,
    lengths and languages stay those of real lessons while the documents differ.
    """
    rng = random.Random(seed)
    sources = [doc for doc in corpus_docs if doc.kind == "lesson" and doc.body.strip()]
    module_sources = [doc for doc in corpus_docs if doc.kind == "module"]
    words = title_words(corpus_docs)
    for number in range(lessons):
        module_number, position = divmod(number, LESSONS_PER_SYNTHETIC_MODULE)
        uid = f"syn-{module_number:05d}"
        base = sources[number % len(sources)]
        if position == 0:
            model = module_sources[module_number % len(module_sources)]
            yield replace(
                model,
                id=f"module:{uid}:fr",
                module_uid=uid,
                title=f"{model.title} {module_number}",
                module_title=f"{model.title} {module_number}",
                fingerprint=uid,
            )
        sentences = re.split(r"(?<=[.!?:])\s+", base.body)
        rng.shuffle(sentences)
        slug = f"l{position:02d}"
        yield replace(
            base,
            id=f"lesson:{uid}:{slug}:{base.lang}",
            module_uid=uid,
            lesson_slug=slug,
            title=f"{base.title} – {rng.choice(words)}",
            module_title=f"Module {module_number}",
            body=" ".join(sentences),
            fingerprint=uid,
        )


def build_synthetic(directory: Path, corpus_docs, lessons: int) -> Build:
    from imaginecole.search.whoosh_engine import WhooshIndex

    index = WhooshIndex(directory)
    started = time.perf_counter()
    documents = index.rebuild(synthetic_documents(corpus_docs, lessons, seed=lessons))
    seconds = time.perf_counter() - started
    index.close()
    return Build(
        lessons=lessons,
        documents=documents,
        seconds=round(seconds, 2),
        lessons_per_s=round(lessons / seconds, 1),
        documents_per_s=round(documents / seconds, 1),
        index_mb=folder_mb(directory),
        what="WhooshIndex.rebuild from documents already in memory",
    )


# ----------------------------------------------------------------------------- HTTP


# Serves an existing data directory as `imaginecole serve` does, without its start-up index
# check: a synthetic index holds modules the database does not, which that check would remove.
# Arguments: port, workers, threads ("" for the setting).
PLAIN_SERVER = """
import sys
from imaginecole.app import create_app
from imaginecole.serving import plan, serve
app = create_app()
port, workers, threads = int(sys.argv[1]), int(sys.argv[2] or 0), int(sys.argv[3] or 0)
serve(app, plan(app, "127.0.0.1", port, workers or None, threads or None))
"""


def start_server(
    data_dir: Path, workers: int | None, threads: int | None, plain: bool = False
) -> Server:
    """``imaginecole serve``, or with ``plain`` the same server without its index check."""
    return Server(
        data_dir,
        "server-{port}.log",
        PLAIN_SERVER if plain else None,
        workers=workers,
        threads=threads,
    )


def wait_ready(server: Server) -> None:
    server.wait_ready(
        "/api/v1/search?q=x",
        ready=lambda status: status == 200,
        timeout=START_TIMEOUT,
        pause=0.2,
        request_timeout=REQUEST_TIMEOUT,
    )


def measure_http(
    port: int, page: str, path_of, queries: list[str], clients: int, duration: float, timeout: float
) -> HttpRun:
    """Run ``clients`` keep-alive clients sending distinct queries for ``duration`` seconds."""
    load = run_clients(
        port,
        clients,
        duration,
        timeout,
        # Each query once: stop rather than repeat when every query was sent.
        lambda number: path_of(queries[number]) if number < len(queries) else None,
    )
    if load.unfinished:
        log("  warning: some clients did not finish in time")
    values = sorted(load.ok)
    return HttpRun(
        path=page,
        clients=clients,
        requests=len(values),
        errors=load.errors,
        seconds=round(load.seconds, 2),
        queries_per_s=round(len(values) / load.seconds, 1) if load.seconds else 0.0,
        p50_ms=percentile_ms(values, 0.50),
        p95_ms=percentile_ms(values, 0.95),
        max_ms=percentile_ms(values, 1.0),
        distinct_queries=min(load.tickets, len(queries)),
    )


def http_runs(server: Server, queries: list[str], args) -> list[HttpRun]:
    paths = (
        ("/api/v1/search?q=…", lambda q: f"/api/v1/search?q={quote(q)}"),
        ("/fr/search?q=…", lambda q: f"/fr/search?q={quote(q)}"),
    )
    runs = []
    offset = 0
    for page, path_of in paths:
        for text in queries[-20:]:  # warm up with queries the measure does not use
            get(server.port, path_of(text), REQUEST_TIMEOUT)
        # Each page gets its own slice of queries: no answer is ever served twice.
        share = queries[offset : offset + (len(queries) - 20) // len(paths)]
        offset += len(share)
        log(f"  {page} with {args.clients} clients for {args.duration:g} s …")
        runs.append(
            measure_http(
                server.port, page, path_of, share, args.clients, args.duration, args.timeout
            )
        )
        if server.process.poll() is not None:
            raise RuntimeError("the server stopped during the load:\n" + server.log_tail())
    return runs


# ----------------------------------------------------------------------------- report


def fmt(value, width: int = 9, digits: int = 2) -> str:
    return f"{value:>{width}.{digits}f}" if isinstance(value, int | float) else f"{'n/a':>{width}}"


def print_report(run: Run) -> None:
    print()
    print("Imaginecole search benchmark")
    print_machine(run)
    print(f"  corpus   {run.corpus}")
    print(
        f"  HTTP     `imaginecole serve` on 127.0.0.1, server workers: {run.server_workers}, "
        f"threads per worker: {run.server_threads};"
    )
    print(
        f"           {run.clients} keep-alive clients, {run.duration_s:g} s per page, "
        "distinct queries"
    )
    print()
    print("Index build")
    header = f"  {'set':<16}{'lessons':>9}{'docs':>9}{'seconds':>9}{'lessons/s':>11}{'docs/s':>9}{'MB':>8}"
    print(header)
    for data in run.sets:
        b = data.build
        if b:
            print(
                f"  {data.name:<16}{b.lessons:>9}{b.documents:>9}{fmt(b.seconds, 9, 1)}"
                f"{fmt(b.lessons_per_s, 11, 1)}{fmt(b.documents_per_s, 9, 1)}{fmt(b.index_mb, 8, 1)}"
            )
    for data in run.sets:
        if data.build:
            print(f"    {data.name}: {data.build.what}")
    print()
    print("Single queries, one at a time in the process (WhooshIndex.search, snippets and facets)")
    print(
        f"  {'set':<16}{'queries':>9}{'found':>7}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'max ms':>9}"
    )
    for data in run.sets:
        s = data.single
        if s:
            print(
                f"  {data.name:<16}{s.queries:>9}{s.with_results:>7}{fmt(s.p50_ms)}"
                f"{fmt(s.p95_ms)}{fmt(s.mean_ms)}{fmt(s.max_ms)}"
            )
    if any(data.http for data in run.sets):
        print()
        print("Over HTTP")
        print(
            f"  {'set':<16}{'path':<22}{'clients':>8}{'queries':>9}{'errors':>7}{'q/s':>8}"
            f"{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        )
        for data in run.sets:
            for h in data.http:
                print(
                    f"  {data.name:<16}{h.path:<22}{h.clients:>8}{h.requests:>9}{h.errors:>7}"
                    f"{fmt(h.queries_per_s, 8, 1)}{fmt(h.p50_ms)}{fmt(h.p95_ms)}{fmt(h.max_ms)}"
                )
    notes = [(data.name, note) for data in run.sets for note in data.notes]
    if notes:
        print()
        for name, note in notes:
            print(f"  {name}: {note}")
    print()
    print(
        "Targets (full corpus, 2 CPUs): single query p50 under 10 ms; over 200 distinct queries/s"
    )
    print("over HTTP with 20 clients.")


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark the search: index build rate, single-query latency and queries/s over "
            "HTTP on the real corpus, then build rate and latency on synthetic sets. Uses fresh "
            "temporary folders; servers listen on 127.0.0.1 only and are always stopped."
        )
    )
    parser.add_argument("--quick", action="store_true", help="the real corpus only")
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS, help="default: %(default)s"
    )
    parser.add_argument(
        "--synthetic",
        default="10000,50000",
        help="comma-separated sizes in lessons of the synthetic sets (default: %(default)s)",
    )
    parser.add_argument(
        "--synthetic-http",
        action="store_true",
        help="also measure HTTP on the synthetic sets (the same server)",
    )
    parser.add_argument("--clients", type=int, default=20, help="default: %(default)s")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per page (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds a request may take before it counts as an error",
    )
    add_server_options(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (its path is shown)"
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(n) for n in args.synthetic.split(",") if n.strip()]
    except ValueError:
        parser.error("--synthetic takes numbers separated by commas, e.g. 10000,50000")
    if any(size < 10 or size > 200_000 for size in args.sizes):
        parser.error("synthetic sizes must be between 10 and 200000 lessons")
    if not 1 <= args.clients <= 200:
        parser.error("--clients must be between 1 and 200")
    if not 0 < args.duration <= 120:
        parser.error("--duration must be between 0 and 120 seconds")
    if not args.corpus_dir.is_dir():
        parser.error(f"the corpus is not at {args.corpus_dir}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(
        **this_machine(),
        corpus=str(args.corpus_dir),
        clients=args.clients,
        duration_s=args.duration,
        server_workers=str(args.workers or "default"),
        server_threads=str(args.threads or "default"),
    )
    work = Path(tempfile.mkdtemp(prefix="imaginecole-search-bench-"))
    servers: list[Server] = []
    try:
        data_dir = work / "corpus"
        data_dir.mkdir()
        app = open_app(data_dir)
        log(f"Importing the corpus from {args.corpus_dir} …")
        corpus = DataSet("corpus")
        corpus.notes = import_corpus(app, args.corpus_dir)
        run.sets.append(corpus)
        log("Rebuilding the index …")
        documents = corpus_documents(app)
        corpus.build = time_rebuild(app, len(documents))
        from imaginecole.search.whoosh_engine import WhooshIndex

        single_queries = make_queries(documents, SINGLE_QUERIES, seed=1)
        index = WhooshIndex(data_dir / "search")
        log(f"Timing {len(single_queries)} single queries …")
        corpus.single = time_queries(index, single_queries)
        index.close()
        corpus.notes.append("single queries, e.g. " + ", ".join(map(repr, single_queries[:8])))

        http_queries = make_queries(documents, HTTP_QUERY_POOL, seed=2)
        log(f"Starting `imaginecole serve` ({len(http_queries)} distinct queries ready) …")
        server = None
        try:
            server = start_server(data_dir, args.workers, args.threads)
            servers.append(server)
            wait_ready(server)
            corpus.http = http_runs(server, http_queries, args)
        except (RuntimeError, OSError) as error:  # the other figures are still worth printing
            corpus.notes.append(f"HTTP not measured: {error}")
            log(f"  {corpus.notes[-1]}")
        finally:
            if server is not None:
                server.stop()

        if not args.quick:
            for size in args.sizes:
                name = f"synthetic {size // 1000}k"
                log(f"Building the {name} index ({size} lessons) …")
                data = DataSet(name)
                run.sets.append(data)
                if args.synthetic_http:
                    # Same database (facet names), synthetic index in place of the corpus one.
                    set_dir = work / f"synthetic-{size}"
                    shutil.copytree(
                        data_dir, set_dir, ignore=shutil.ignore_patterns("search*", "blobs")
                    )
                    index_dir = set_dir / "search"
                else:
                    index_dir = work / f"synthetic-{size}" / "search"
                data.build = build_synthetic(index_dir, documents, size)
                index = WhooshIndex(index_dir)
                data.single = time_queries(index, make_queries(documents, SINGLE_QUERIES, seed=3))
                index.close()
                if args.synthetic_http:
                    server = None
                    try:
                        server = start_server(
                            index_dir.parent, args.workers, args.threads, plain=True
                        )
                        servers.append(server)
                        wait_ready(server)
                        data.http = http_runs(server, http_queries, args)
                        data.notes.append("HTTP served without the start-up check")
                    except (RuntimeError, OSError) as error:
                        data.notes.append(f"HTTP not measured: {error}")
                        log(f"  {data.notes[-1]}")
                    finally:
                        if server is not None:
                            server.stop()
                shutil.rmtree(index_dir.parent, ignore_errors=True)

        print_report(run)
        if args.json:
            write_json(args.json, run)
        return 0
    except (RuntimeError, OSError) as error:
        log(f"Benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("Interrupted.")
        return 130
    finally:
        for server in servers:
            server.stop()
        remove_unless_kept(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
