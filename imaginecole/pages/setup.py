"""Put the page cache in front of the app; read every page from one snapshot; compress text."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from pathlib import Path

from flask import Flask, Response, request
from sqlalchemy import Connection

from imaginecole.datadir import page_cache_dir
from imaginecole.extensions import db
from imaginecole.pages.cache import (
    CACHEABLE,
    COMPRESSIBLE,
    GENERATION,
    MIN_COMPRESSED,
    PageCache,
    PageStore,
    StaticFiles,
    accepts_gzip,
)
from imaginecole.pages.generation import GenerationReader, generation_in_session
from imaginecole.search import index_of

READING_METHODS = ("GET", "HEAD")
RENDERING_FILES = {".py", ".html", ".css", ".js", ".ico", ".mo"}


def register(app: Flask) -> None:
    megabytes = int(app.config["PAGE_CACHE_MB"])
    static = StaticFiles(Path(app.static_folder), app.static_url_path)
    with app.app_context():
        folder = page_cache_dir()
    store = PageStore(
        folder,
        max_bytes=megabytes * 1024 * 1024,
        memory_bytes=int(app.config["PAGE_CACHE_MEMORY_MB"]) * 1024 * 1024,
    )
    app.extensions["page_store"] = store
    app.wsgi_app = PageCache(
        app,
        app.wsgi_app,
        store if megabytes > 0 else None,
        ProcessLocal(app),
        static,
        variants=[(shows_search_results, lambda: index_of(app).version())],
        code=_code_version_once(
            Path(app.root_path), Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
        ),
    )

    # First of all the request's hooks: the signed-in user is read from the snapshot too.
    app.before_request_funcs.setdefault(None, []).insert(0, begin_snapshot)

    @app.after_request
    def finish(response: Response) -> Response:
        if request.environ.get(CACHEABLE) and GENERATION in request.environ:
            if generation_in_session() != request.environ[GENERATION]:
                # The content changed between the generation's read and this page's snapshot:
                # serve it, but do not store it under a generation it does not show.
                request.environ[CACHEABLE] = False
            else:
                return response  # the page cache compresses and tags it
        return compress(response)


def code_version(package: Path, catalogs: Path) -> str:
    """Return a name of the code, templates and translations that render pages.

    Pages are stored under it too: after an upgrade (or on a host of a national server still
    running the previous version) a page is never served with another version's layout,
    wording or static file addresses.
    """
    digest = hashlib.sha256()
    files = [p for p in package.rglob("*") if p.suffix in RENDERING_FILES and p.is_file()]
    files += list(catalogs.glob("*/LC_MESSAGES/*.mo"))
    for path in sorted(files):
        digest.update(str(path.relative_to(path.anchor)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# Files do not change under a running process; tests make hundreds of apps.
_code_version_once = functools.cache(code_version)


def shows_search_results(path: str) -> bool:
    """Tell whether the page at ``path`` shows what the search index holds."""
    return path == "/api/v1/search" or (path.endswith("/search") and path.count("/") == 2)


class ProcessLocal(GenerationReader):
    """A generation reader that starts afresh in a process forked from this one."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.pid = os.getpid()

    def __call__(self) -> int:
        if os.getpid() != self.pid:
            self.pid = os.getpid()
            self.reset()
        return super().__call__()


def begin_snapshot() -> None:
    """Read everything a page shows from one snapshot of the database.

    Without it, an import committing while a page renders could show half-replaced content, or
    fail on a row deleted between two queries of the same page.
    """
    if request.method not in READING_METHODS or db.session().in_transaction():
        return
    if db.engine.dialect.name == "sqlite":
        connection: Connection = db.session.connection()
        driver = connection.connection.driver_connection
        if not driver.in_transaction:
            # Python's sqlite3 starts no transaction for reads: each query would see the latest
            # commit. An explicit BEGIN holds one snapshot (WAL) until the request ends.
            connection.exec_driver_sql("BEGIN")
    else:
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def compress(response: Response) -> Response:
    """Gzip a text response and tag it, so a browser can ask whether it changed."""
    if response.direct_passthrough or response.status_code != 200:
        return response
    if not (response.mimetype or "").startswith(COMPRESSIBLE) and response.mimetype not in (
        "application/javascript",
    ):
        return response
    compressible = len(response.get_data()) >= MIN_COMPRESSED
    if compressible:
        response.vary.add("Accept-Encoding")
    if request.method in READING_METHODS:
        response.add_etag()
        tag = response.get_etag()[0]
        # The browser sends back whichever tag it got: the gzip copy's or the plain one's.
        if {tag, f"{tag}-gz"} & _tags_sent():
            unchanged = Response(status=304)
            for name in ("ETag", "Vary", "Cache-Control"):
                if name in response.headers:
                    unchanged.headers[name] = response.headers[name]
            return unchanged
    if not compressible or "Content-Encoding" in response.headers:
        return response
    if not accepts_gzip(request.environ):
        return response
    response.set_data(gzip.compress(response.get_data(), compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    if response.get_etag()[0]:
        response.set_etag(response.get_etag()[0] + "-gz")
    return response


def _tags_sent() -> set[str]:
    sent = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/").strip('"') for tag in sent.split(",") if tag.strip()}
