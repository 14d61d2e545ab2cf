"""Serve the app on the LAN: several worker processes where the system allows it.

One Python process runs Python code on one CPU at a time, so a server with one process leaves
every other core of the school's machine idle. On Linux and macOS the app is served by gunicorn
with one worker process per CPU (a few threads each); on Windows, where gunicorn does not run,
by waitress in one process.

The database schema and the search index are brought up to date once, before the workers start;
every worker then opens its own database connections and index readers.
"""

from __future__ import annotations

import ctypes
import gc
import os
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
    server: str  # "gunicorn" or "waitress"
    max_requests: int = 0  # per worker before it is replaced; 0: never (waitress: never)

    def describe(self) -> str:
        if self.server == "waitress":
            return f"waitress, one process with {self.workers * self.threads} threads"
        return f"gunicorn, {self.workers} worker processes with {self.threads} threads each"


class ServingError(ValueError):
    """A setting does not say how to serve; the message names it and what it must be."""


def plan(app: Flask, host: str, port: int, workers: int | None, threads: int | None) -> ServerPlan:
    """Decide how to serve: the settings, unless given, and the server this system can run."""
    workers = workers or _count_setting(app, "SERVER_WORKERS", minimum=0) or default_workers()
    threads = threads or _count_setting(app, "SERVER_THREADS", minimum=1)
    max_requests = _count_setting(app, "SERVER_MAX_REQUESTS", minimum=0)
    server = "gunicorn" if _has_gunicorn() else "waitress"
    return ServerPlan(host, port, workers, threads, server, max_requests)


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
    _run_gunicorn(
        app,
        {
            "bind": f"{how.host}:{how.port}",
            "workers": how.workers,
            "threads": how.threads,
            "worker_class": "gthread",
            "preload_app": True,
            "proc_name": "imaginecole",
            "errorlog": "-",
            # A pupil's phone may keep its connection open between pages.
            "keepalive": 5,
            "graceful_timeout": 10,
            # Python keeps memory a worker freed (searches grow it by tens of megabytes): a
            # fresh worker, forked from the master, shares the master's memory again. Off by
            # default: a fresh worker reads its pages and index again (see decision 22).
            "max_requests": how.max_requests,
            "max_requests_jitter": how.max_requests // 10,
        },
    )


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


def _has_gunicorn() -> bool:
    if os.name != "posix":
        return False
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:
        return False
    return True


def _run_gunicorn(app: Flask, options: dict) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        """gunicorn, configured from here rather than from a command line or a file."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                # Newer versions open a control socket in the user's home folder: not needed.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            return app

    Server().run()
