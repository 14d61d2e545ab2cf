"""Compare the two search engines, Whoosh and PostgreSQL, on synthetic sets of lessons.

Loads the France curriculum and the four course sites of ../shared/corpus into a fresh SQLite
data directory (as ``bench/search.py`` does), then for each synthetic set (10,000 and 50,000
lessons by default, made from the corpus lessons as in ``bench/search.py``):

* Whoosh: ``WhooshIndex.rebuild`` from documents in memory, in a folder;
* PostgreSQL: ``PostgresIndex.rebuild`` into the search tables of a database on a private
  cluster this script starts (``tests/postgresql.py``) and always stops; then ``ANALYZE``, as
  autovacuum would do on a server;

and times the same distinct queries, one at a time, on each: p50/p95 per query, per kind of
query (one word, two words, and those that fell back to a suggestion or to some of the words),
the build rate and the load average, side by side. The machine may be shared: compare the
engines by their ratios in one run. The goal for PostgreSQL: p50 under 20 ms at 50,000 lessons.

    .venv/bin/python bench/search_engines.py
    .venv/bin/python bench/search_engines.py --synthetic 2000 --queries 100
    .venv/bin/python bench/search_engines.py --engines postgresql --synthetic 50000

The last skips Whoosh's build (about 26 minutes at 50,000 lessons on a loaded machine);
PostgreSQL's own takes about 23 there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as `python bench/search_engines.py`: the modules beside this script must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_CORPUS,
    REPO_ROOT,
    log,
    open_app,
    percentile_ms,
    remove_unless_kept,
)
from search import (  # noqa: E402
    Latency,
    corpus_documents,
    folder_mb,
    import_corpus,
    make_queries,
    synthetic_documents,
)

sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere


KINDS = ("one word", "two words", "fallback")


@dataclass
class EngineRun:
    engine: str
    lessons: int
    documents: int
    build_s: float
    lessons_per_s: float
    size_mb: float
    latency: Latency
    by_kind: dict[str, Latency]
    load: float  # the one-minute load average at the end of the queries


def query_kind(text: str, results) -> str:
    """Return the kind of a query, as the bench reports them: see ``KINDS``."""
    if results.corrected or results.partial or results.suggestion:
        return "fallback"
    return "one word" if len(text.split()) == 1 else "two words"


def latency(times: list[float], with_results: int) -> Latency:
    times = sorted(times)
    return Latency(
        queries=len(times),
        p50_ms=percentile_ms(times, 0.50),
        p95_ms=percentile_ms(times, 0.95),
        mean_ms=round(statistics.mean(times) * 1000, 2) if times else None,
        max_ms=percentile_ms(times, 1.0),
        with_results=with_results,
    )


def time_queries(index, queries: list[str]) -> tuple[Latency, dict[str, Latency], float]:
    """Time each query once, as the search page asks it; return all, per kind, and the load."""
    from imaginecole.search import SearchQuery

    for text in queries[:20]:  # warm up: open the index, fill the operating system's cache
        index.search(SearchQuery(text=text, prefer_lang="fr"))
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    found: dict[str, int] = dict.fromkeys(KINDS, 0)
    for text in queries:
        started = time.perf_counter()
        results = index.search(SearchQuery(text=text, prefer_lang="fr"))
        seconds = time.perf_counter() - started
        kind = query_kind(text, results)
        times[kind].append(seconds)
        found[kind] += results.total > 0
    every = [seconds for kind in KINDS for seconds in times[kind]]
    by_kind = {kind: latency(times[kind], found[kind]) for kind in KINDS if times[kind]}
    return latency(every, sum(found.values())), by_kind, os.getloadavg()[0]


def whoosh_run(work: Path, corpus_docs, lessons: int, queries: list[str]) -> EngineRun:
    from imaginecole.search.whoosh_engine import WhooshIndex

    index = WhooshIndex(work / f"whoosh-{lessons}")
    started = time.perf_counter()
    documents = index.rebuild(synthetic_documents(corpus_docs, lessons, seed=lessons))
    seconds = time.perf_counter() - started
    timed = time_queries(index, queries)
    index.close()
    size = folder_mb(index.directory)
    return EngineRun("whoosh", lessons, documents, seconds, lessons / seconds, size, *timed)


def postgresql_run(
    server_url: str, work: Path, corpus_docs, lessons: int, queries: list[str]
) -> EngineRun:
    import sqlalchemy
    from sqlalchemy.engine import make_url

    from imaginecole.extensions import db
    from imaginecole.search.postgresql_engine import PostgresIndex

    database = f"bench_{lessons}"
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    data_dir = work / f"postgresql-{lessons}"
    data_dir.mkdir()
    app = open_app(data_dir, DATABASE_URL=url, SEARCH_ENGINE="postgresql")
    with app.app_context():
        index = PostgresIndex(db.engine, db.session)
        started = time.perf_counter()
        documents = index.rebuild(synthetic_documents(corpus_docs, lessons, seed=lessons))
        seconds = time.perf_counter() - started
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sqlalchemy.text("VACUUM ANALYZE"))
            size = connection.scalar(
                sqlalchemy.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "WHERE c.relname LIKE 'search_%' AND c.relkind = 'r'"
                )
            )
        timed = time_queries(index, queries)
        db.session.remove()
        db.engine.dispose()
    return EngineRun(
        "postgresql", lessons, documents, seconds, lessons / seconds, float(size) / 1e6, *timed
    )


def describe(run: EngineRun) -> str:
    """Return one run's figures in a line, shown as soon as it is measured."""
    return (
        f"built at {run.lessons_per_s:.1f} lessons/s; p50 {run.latency.p50_ms} ms, "
        f"p95 {run.latency.p95_ms} ms; load average {run.load:.2f}"
    )


def print_report(runs: list[EngineRun]) -> None:
    print()
    print("Search engines compared: the same synthetic lessons, the same queries, one at a time")
    print(
        f"  {'lessons':>8}  {'engine':<11}{'docs':>8}{'build s':>9}{'lessons/s':>11}{'MB':>8}"
        f"{'queries':>9}{'found':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    )
    for run in runs:
        lat = run.latency
        print(
            f"  {run.lessons:>8}  {run.engine:<11}{run.documents:>8}{run.build_s:>9.1f}"
            f"{run.lessons_per_s:>11.1f}{run.size_mb:>8.1f}{lat.queries:>9}{lat.with_results:>7}"
            f"{lat.p50_ms:>9.2f}{lat.p95_ms:>9.2f}{lat.max_ms:>9.2f}"
        )
    print()
    print("  Per kind of query (p50 / p95 ms, queries), and the load average after them")
    for run in runs:
        kinds = "  ".join(
            f"{kind}: {lat.p50_ms:.1f} / {lat.p95_ms:.1f} ({lat.queries})"
            for kind, lat in run.by_kind.items()
        )
        print(f"  {run.lessons:>8}  {run.engine:<11}{kinds}  load {run.load:.2f}")
    by_size: dict[int, dict[str, EngineRun]] = {}
    for run in runs:
        by_size.setdefault(run.lessons, {})[run.engine] = run
    print()
    print("  PostgreSQL / Whoosh")
    for lessons, pair in by_size.items():
        if len(pair) == 2:
            pg, wh = pair["postgresql"], pair["whoosh"]
            print(
                f"  {lessons:>8} lessons: p50 {pg.latency.p50_ms / wh.latency.p50_ms:.2f}x, "
                f"p95 {pg.latency.p95_ms / wh.latency.p95_ms:.2f}x, "
                f"build rate {pg.lessons_per_s / wh.lessons_per_s:.2f}x"
            )
            for kind in KINDS:
                if kind in pg.by_kind and kind in wh.by_kind:
                    print(
                        f"  {'':>8}  {kind}: p50 "
                        f"{pg.by_kind[kind].p50_ms / wh.by_kind[kind].p50_ms:.2f}x, "
                        f"p95 {pg.by_kind[kind].p95_ms / wh.by_kind[kind].p95_ms:.2f}x"
                    )
    print()
    print("Goal: PostgreSQL p50 under 20 ms at 50,000 lessons on this machine.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare the Whoosh and PostgreSQL search engines on synthetic lessons. "
        "Uses fresh temporary folders and a private PostgreSQL cluster, always stopped."
    )
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS, help="default: %(default)s"
    )
    parser.add_argument(
        "--synthetic",
        default="10000,50000",
        help="comma-separated sizes in lessons (default: %(default)s)",
    )
    parser.add_argument(
        "--queries", type=int, default=150, help="distinct queries timed (default: %(default)s)"
    )
    parser.add_argument(
        "--engines",
        default="whoosh,postgresql",
        help="comma-separated engines to time (default: %(default)s)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (its path is shown)"
    )
    args = parser.parse_args(argv)
    args.engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if not args.engines or not set(args.engines) <= {"whoosh", "postgresql"}:
        parser.error("--engines takes whoosh, postgresql or both, separated by a comma")
    try:
        args.sizes = [int(n) for n in args.synthetic.split(",") if n.strip()]
    except ValueError:
        parser.error("--synthetic takes numbers separated by commas, e.g. 10000,50000")
    if any(size < 10 or size > 200_000 for size in args.sizes):
        parser.error("synthetic sizes must be between 10 and 200000 lessons")
    if not 20 <= args.queries <= 5000:
        parser.error("--queries must be between 20 and 5000")
    if not args.corpus_dir.is_dir():
        parser.error(f"the corpus is not at {args.corpus_dir}")
    return args


def main(argv: list[str] | None = None) -> int:
    from tests import postgresql

    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="imaginecole-engines-bench-"))
    # Its own folder: the server runs as another user, who cannot enter ``work``.
    cluster = Path(tempfile.mkdtemp(prefix="imaginecole-engines-pg-"))
    try:
        log("Starting a private PostgreSQL cluster …")
        server_url = postgresql.start(cluster)
        corpus_dir = work / "corpus"
        corpus_dir.mkdir()
        app = open_app(corpus_dir)
        log(f"Importing the corpus from {args.corpus_dir} …")
        import_corpus(app, args.corpus_dir)
        documents = corpus_documents(app)
        queries = make_queries(documents, args.queries, seed=3)
        runs = []
        for size in args.sizes:
            if "whoosh" in args.engines:
                log(f"Whoosh, {size} lessons …")
                runs.append(whoosh_run(work, documents, size, queries))
                log(f"  {describe(runs[-1])}")
            if "postgresql" in args.engines:
                log(f"PostgreSQL, {size} lessons …")
                runs.append(postgresql_run(server_url, work, documents, size, queries))
                log(f"  {describe(runs[-1])}")
        print_report(runs)
        return 0
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        log(f"Benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("Interrupted.")
        return 130
    finally:
        postgresql.stop(cluster)
        remove_unless_kept(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
