"""Serve the app on the LAN: several worker processes where the system allows it.

One Python process runs Python code on one CPU at a time, so a server with one process leaves
every other core of the school's machine idle. On Linux and macOS the app is served by granian
with one worker process per CPU (a few Python threads each); on Windows, where granian runs a
single process, by waitress.

granian reads and writes HTTP in Rust, outside Python: a page from the page cache costs the
worker a few hundredths of a millisecond of Python, so the HTTP handling around it decided how
many readers a small box could answer (decision 35).

The database schema and the search index are brought up to date once, before the workers start;
every worker then opens its own database connections and index readers.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import sys
from dataclasses import dataclass

from flask import Flask

from imaginecole.datadir import ImportBusy
from imaginecole.extensions import db
from imaginecole.maintenance.operations import rerender_lessons
from imaginecole.schema import ensure_schema
from imaginecole.search import search_index
from imaginecole.search.indexing import sync_index

MAX_DEFAULT_WORKERS = 4  # each worker holds its own copy of the app: memory is short on small boxes


@dataclass
class ServerPlan:
    host: str
    port: int
    workers: int
    threads: int  # per worker
    server: str  # "granian" or "waitress"
    worker_memory_mb: int = 0  # a worker using more is replaced; 0: never (waitress: never)

    def describe(self) -> str:
        if self.server == "waitress":
            return f"waitress, one process with {self.workers * self.threads} threads"
        return f"granian, {self.workers} worker processes with {self.threads} threads each"


class ServingError(ValueError):
    """A setting does not say how to serve; the message names it and what it must be."""


def plan(app: Flask, host: str, port: int, workers: int | None, threads: int | None) -> ServerPlan:
    """Decide how to serve: the settings, unless given, and the server this system can run."""
    workers = workers or _count_setting(app, "SERVER_WORKERS", minimum=0) or default_workers()
    threads = threads or _count_setting(app, "SERVER_THREADS", minimum=1)
    worker_memory_mb = _count_setting(app, "SERVER_WORKER_MEMORY_MB", minimum=0)
    if app.config.get("SERVER_MAX_REQUESTS") not in (None, "", "0", 0):
        # The setting of earlier versions. A school's server must start after an upgrade,
        # but silently ignoring it would leave its administrator believing memory is bounded.
        app.logger.warning(
            "The setting SERVER_MAX_REQUESTS is no longer used: remove it, and set "
            "SERVER_WORKER_MEMORY_MB instead (see `imaginecole settings`)."
        )
    server = "granian" if _has_granian() else "waitress"
    return ServerPlan(host, port, workers, threads, server, worker_memory_mb)


def _count_setting(app: Flask, name: str, minimum: int) -> int:
    value = app.config[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if isinstance(value, bool) or number < minimum:
        raise ServingError(
            f"The setting {name} is {value!r}; it must be a whole number of at least {minimum} "
            "(see `imaginecole settings`)."
        )
    return number


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def prepare(app: Flask) -> None:
    """Upgrade the database, render old lessons again, update the search index, before serving.

    Raise SchemaError when the database was upgraded by a newer version.
    """
    ensure_schema(app)
    with app.app_context():
        try:
            rerendered = rerender_lessons()
            db.session.commit()
        except ImportBusy:  # an import runs: the next start or `check --repair` does it
            db.session.rollback()
            rerendered = 0
        if rerendered:
            app.logger.info("Lessons rendered again by this version: %s", rerendered)
        report = sync_index()
    if report.updated or report.removed:
        app.logger.info(
            "Search index: %s modules indexed, %s removed", report.updated, report.removed
        )


def serve(app: Flask, how: ServerPlan) -> None:
    """Serve ``app`` until interrupted, as ``how`` says."""
    release_resources(app)
    if how.server == "waitress":
        from waitress import serve as waitress_serve

        waitress_serve(
            app,
            host=how.host,
            port=how.port,
            threads=how.workers * how.threads,
            ident="imaginecole",
        )
        return
    # The app loaded before the fork is shared by every worker until a page of memory is
    # written to; the garbage collector writes to every object it visits. Frozen objects are
    # never visited, so the workers keep sharing them.
    gc.collect()
    gc.freeze()
    share_less_memory()
    _run_granian(app, how)


MALLOC_ARENAS = 2  # per worker process; glibc's default is eight per CPU
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def share_less_memory() -> None:
    """Hand the C allocator's free memory back and bound its arenas, before the workers fork.

    With glibc (Linux, Raspberry Pi OS), memory freed while the app was prepared stays in the
    process and each worker would copy the pages it writes to; and each thread of a worker
    gets a heap (arena) of its own that keeps what it freed, which made a worker grow by tens
    of megabytes under a search load. Two arenas are shared by a worker's threads. Elsewhere
    (another C library) nothing is done.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    malloc_trim(0)


def release_resources(app: Flask) -> None:
    """Close what this process opened, so that worker processes never share it."""
    with app.app_context():
        # A database connection or an index reader inherited by a forked worker would be
        # used by two processes at once.
        db.engine.dispose()
        search_index().close()


def _has_granian() -> bool:
    # It is installed everywhere but on Windows, where it would serve from one process.
    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return True


MEMORY_CHECK_SECONDS = 10  # how often granian measures its workers when a bound is set


def granian_options(how: ServerPlan) -> dict:
    """Return the options granian is started with for ``how``."""
    return {
        "address": how.host,
        "port": how.port,
        "workers": how.workers,
        # The threads that run Python; granian's own threads read and write HTTP.
        "blocking_threads": how.threads,
        "log_access": False,
        # Python keeps memory a worker freed (searches grow it by tens of megabytes): a fresh
        # worker, forked from the master, shares the master's memory again. Off by default:
        # a fresh worker reads its pages and index again (see decision 22).
        "workers_max_rss": how.worker_memory_mb or None,
        "rss_sample_interval": MEMORY_CHECK_SECONDS,
        # A worker that died (killed for want of memory, say) is replaced; by default granian
        # would stop serving altogether.
        "respawn_failed_workers": True,
        # A worker asked to stop finishes the answers it is writing, a bundle download too.
        "workers_kill_timeout": 30,
    }


def _run_granian(app: Flask, how: ServerPlan) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    options = {**granian_options(how), "interface": Interfaces.WSGI}
    if sys.platform == "linux":
        # Workers forked from this process, which has loaded the app, share its memory
        # instead of each importing the app again. (Python 3.14 no longer forks by default.)
        multiprocessing.set_start_method("fork", force=True)
        Server("imaginecole", **options).serve(target_loader=lambda _target: app)
    else:
        # macOS starts each worker afresh: it imports the app, which prepares itself under a
        # lock as it does for any server configured by hand.
        Server("imaginecole.wsgi:app", **options).serve()
