"""Serve anonymous pages from a cache kept per content generation, before Flask's request cycle.

A view marked ``@public_page`` renders the same bytes for every reader who is not signed in.
The first GET of such a URL is rendered by Flask; the bytes (and a gzip copy) are stored under
the content generation read before the rendering, in memory and in the page folder that every
worker (and, with shared storage, every host) reads. Later requests for the URL at the same
generation are answered here, with one small database read to learn the generation: a write's
commit changes it, so no page older than the last commit is ever served.

Never cached: any method but GET and HEAD, a request carrying the session cookie (a signed-in
person, a flashed message, a form's CSRF token all live in it), a view not marked public, a
status other than 200, a response that sets a cookie, and a page whose rendering saw another
generation than the one it would be stored under.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path

from flask import Flask, request

CACHEABLE = "imaginecole.cacheable"  # set in the WSGI environ by a @public_page view
GENERATION = "imaginecole.generation"  # the generation a page being rendered is stored under
MIN_COMPRESSED = 256  # smaller bodies gain nothing from gzip
COMPRESSIBLE = ("text/", "application/json", "application/xml", "image/svg+xml")
# Headers that describe one answer rather than the page: set again at each answer.
PER_ANSWER = {
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "vary",
    "date",
    "cache-control",
    "set-cookie",
}
# Browsers ask again each time (the content may change at any commit); an unchanged page then
# costs a 304 of a few bytes.
PAGE_CACHE_CONTROL = "no-cache"

log = logging.getLogger(__name__)

StartResponse = Callable[..., Callable[[bytes], object]]


def public_page(view: Callable) -> Callable:
    """Mark a view whose response is the same for every reader who is not signed in."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        request.environ[CACHEABLE] = True
        return view(*args, **kwargs)

    return wrapper


@dataclasses.dataclass(frozen=True)
class Entry:
    """One stored answer: its headers, its bytes and, for text, their gzip copy."""

    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    gzipped: bytes | None
    etag: str  # of the body; the gzip copy's is derived from it
    stored_at: float

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 512

    @functools.cached_property
    def last_modified(self) -> str:
        return email.utils.formatdate(self.stored_at, usegmt=True)

    @classmethod
    def make(cls, status: str, headers: Iterable[tuple[str, str]], body: bytes) -> Entry:
        kept = tuple((name, value) for name, value in headers if name.lower() not in PER_ANSWER)
        content_type = next((v for n, v in kept if n.lower() == "content-type"), "")
        gzipped = None
        if len(body) >= MIN_COMPRESSED and content_type.startswith(COMPRESSIBLE):
            # mtime=0: the same page gives the same bytes on every worker.
            gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        etag = hashlib.sha256(body).hexdigest()[:24]
        return cls(status, kept, body, gzipped, etag, time.time())

    def encode(self) -> bytes:
        meta = {
            "status": self.status,
            "headers": self.headers,
            "etag": self.etag,
            "stored_at": self.stored_at,
            "body": len(self.body),
            "gzipped": None if self.gzipped is None else len(self.gzipped),
        }
        return json.dumps(meta).encode() + b"\n" + self.body + (self.gzipped or b"")

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        line, _, rest = data.partition(b"\n")
        meta = json.loads(line)
        size = meta["body"]
        body = rest[:size]
        gzipped = None if meta["gzipped"] is None else rest[size : size + meta["gzipped"]]
        if len(body) != size or (gzipped is not None and len(gzipped) != meta["gzipped"]):
            raise ValueError("truncated page file")
        headers = tuple((name, value) for name, value in meta["headers"])
        return cls(meta["status"], headers, body, gzipped, meta["etag"], meta["stored_at"])


class PageStore:
    """Pages by generation and key: a few megabytes in this process, the rest in a folder.

    The folder holds one sub-folder per generation; a process that sees a new generation
    removes the others. Its size is bounded by removing the oldest pages of the generation.
    """

    def __init__(self, folder: Path, max_bytes: int, memory_bytes: int) -> None:
        self.folder = folder
        self.prefix = str(folder)
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self.memory: OrderedDict[str, Entry] = OrderedDict()
        self.memory_used = 0
        self.generation: int | None = None
        self.written = 0  # bytes written since the folder's size was last checked
        self.lock = threading.Lock()

    def get(self, generation: int, key: str) -> Entry | None:
        self._see(generation)
        with self.lock:
            entry = self.memory.get(key)
            if entry is not None:
                self.memory.move_to_end(key)
                return entry
        try:
            with open(self._path(generation, key), "rb") as stored:
                entry = Entry.decode(stored.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("Page cache: unreadable page file %s: %s", key, error)
            return None
        self._remember(key, entry)
        return entry

    def put(self, generation: int, key: str, entry: Entry) -> None:
        self._see(generation)
        if entry.size > self.max_bytes // 8:
            return
        self._remember(key, entry)
        path = Path(self._path(generation, key))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written under a temporary name and renamed: a reader on another worker or host
            # sees the whole page or none.
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(entry.encode())
            os.replace(temp, path)
        except OSError as error:  # a full disk: the page is served from memory, rendered again
            log.warning("Page cache: could not store a page: %s", error)
            return
        self.written += entry.size
        if self.written > self.max_bytes // 8:
            self.written = 0
            self._trim(generation)

    def clear(self) -> None:
        """Forget every page (memory and folder)."""
        with self.lock:
            self.memory.clear()
            self.memory_used = 0
            self.generation = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def _remember(self, key: str, entry: Entry) -> None:
        if entry.size > self.memory_bytes // 4:
            return
        with self.lock:
            old = self.memory.pop(key, None)
            if old is not None:
                self.memory_used -= old.size
            self.memory[key] = entry
            self.memory_used += entry.size
            while self.memory_used > self.memory_bytes and self.memory:
                _, dropped = self.memory.popitem(last=False)
                self.memory_used -= dropped.size

    def _see(self, generation: int) -> None:
        if generation == self.generation:
            return
        with self.lock:
            if generation == self.generation:
                return
            self.generation = generation
            self.memory.clear()
            self.memory_used = 0
        self._remove_other_generations(generation)

    def _remove_other_generations(self, generation: int) -> None:
        try:
            folders = list(os.scandir(self.folder))
        except OSError:
            return
        for folder in folders:
            if folder.name != str(generation) and not folder.name.startswith("."):
                shutil.rmtree(folder.path, ignore_errors=True)

    def _trim(self, generation: int) -> None:
        files = []
        for path in Path(self.folder, str(generation)).glob("*/*"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        files.sort()
        for _, size, path in files:
            if total <= self.max_bytes * 3 // 4:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _path(self, generation: int, key: str) -> str:
        # A string rather than a Path: this runs for every page served from the folder.
        return os.path.join(self.prefix, str(generation), key[:2], key)


class PageCache:
    """WSGI layer in front of the Flask app: answers stored pages, stores new ones."""

    def __init__(
        self,
        app: Flask,
        wsgi_app: Callable,
        store: PageStore | None,
        generation: Callable[[], int],
        static: StaticFiles,
        variants: Iterable[tuple[Callable[[str], bool], Callable[[], str]]] = (),
        code: str = "",
    ) -> None:
        self.wsgi_app = wsgi_app
        self.code = code  # names the templates, translations and code that render the pages
        self.variants = tuple(variants)
        self.store = store
        self.generation = generation
        self.static = static
        self.session_cookie = app.config["SESSION_COOKIE_NAME"] + "="
        self.max_entry = store.max_bytes // 8 if store else 0

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        entry = self.static.find(path)
        if entry is not None:
            cache_control = self.static.cache_control(environ, path)
            return answer(environ, start_response, entry, cache_control, by_date=True)
        if self.store is None or self.session_cookie in environ.get("HTTP_COOKIE", ""):
            return self.wsgi_app(environ, start_response)
        try:
            generation = self.generation()
        except Exception:  # the database is unreachable: Flask says so in its error page
            log.exception("Page cache: could not read the content generation")
            return self.wsgi_app(environ, start_response)
        # A page that also shows something kept outside the database (search results: the
        # index follows the database after the commit) is kept under that thing's state too.
        state = "".join(name() for matches, name in self.variants if matches(path))
        address = f"{self.code}{path}?{environ.get('QUERY_STRING', '')}#{state}"
        key = hashlib.sha256(address.encode()).hexdigest()
        entry = self.store.get(generation, key)
        if entry is not None:
            return answer(environ, start_response, entry, PAGE_CACHE_CONTROL)
        if method == "HEAD":
            return self.wsgi_app(environ, start_response)
        environ[GENERATION] = generation
        return self._render(environ, start_response, generation, key)

    def _render(
        self, environ: dict, start_response: StartResponse, generation: int, key: str
    ) -> Iterable[bytes]:
        held: dict = {}

        def hold(status: str, headers: list[tuple[str, str]], exc_info=None):
            if self._storable(environ, status, headers):
                held.update(status=status, headers=headers)
                return _no_write
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, hold)
        if not held:
            return body
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        entry = Entry.make(held["status"], held["headers"], data)
        self.store.put(generation, key, entry)
        return answer(environ, start_response, entry, PAGE_CACHE_CONTROL)

    def _storable(self, environ: dict, status: str, headers: list[tuple[str, str]]) -> bool:
        if not environ.get(CACHEABLE) or not status.startswith("200"):
            return False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "set-cookie" or lowered == "content-encoding":
                return False
            if lowered == "content-length" and int(value) > self.max_entry:
                return False
        return True


def _no_write(data: bytes) -> None:
    raise RuntimeError("a cached page must be returned as a body, not written")


class StaticFiles:
    """The app's static files and favicon, read once and kept with their gzip copies."""

    def __init__(self, folder: Path, url_path: str) -> None:
        self.folder = folder.resolve()
        self.prefix = url_path.rstrip("/") + "/"
        self.entries: dict[str, Entry | None] = {}

    def find(self, path: str) -> Entry | None:
        if path == "/favicon.ico":
            name = "favicon.ico"
        elif path.startswith(self.prefix):
            name = path[len(self.prefix) :]
        else:
            return None
        if name not in self.entries:
            self.entries[name] = self._read(name)
        return self.entries[name]

    def cache_control(self, environ: dict, path: str) -> str:
        # A URL with the file's hash (static_url) never changes meaning: keep it a year.
        if path.startswith(self.prefix) and "v=" in environ.get("QUERY_STRING", ""):
            return "public, max-age=31536000, immutable"
        return "public, max-age=86400"

    def _read(self, name: str) -> Entry | None:
        path = (self.folder / name).resolve()
        if path.parent != self.folder and self.folder not in path.parents:
            return None
        if not path.is_file() or name.startswith(".") or len(self.entries) > 1000:
            return None
        content_type = _content_type(path.suffix)
        headers = (("Content-Type", content_type), ("X-Content-Type-Options", "nosniff"))
        entry = Entry.make("200 OK", headers, path.read_bytes())
        return dataclasses.replace(entry, stored_at=path.stat().st_mtime)


def _content_type(suffix: str) -> str:
    return {
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".ico": "image/x-icon",
        ".png": "image/png",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
    }.get(suffix, "application/octet-stream")


def accepts_gzip(environ: dict) -> bool:
    for part in environ.get("HTTP_ACCEPT_ENCODING", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def answer(
    environ: dict,
    start_response: StartResponse,
    entry: Entry,
    cache_control: str,
    by_date: bool = False,
) -> Iterable[bytes]:
    """Answer ``entry``: 304 when the browser has it, gzip when it takes gzip.

    ``by_date`` also honours If-Modified-Since: only for files that never change while served,
    since two generations of a page may be stored within the same second.
    """
    compressed = entry.gzipped is not None and accepts_gzip(environ)
    etag = f'"{entry.etag}-gz"' if compressed else f'"{entry.etag}"'
    headers = [("ETag", etag), ("Cache-Control", cache_control)]
    headers.append(("Last-Modified", entry.last_modified))
    if entry.gzipped is not None:
        headers.append(("Vary", "Accept-Encoding"))
    if _not_modified(environ, entry, by_date):
        start_response("304 Not Modified", headers)
        return []
    body = entry.gzipped if compressed else entry.body
    headers.extend(entry.headers)
    if compressed:
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    start_response(entry.status, headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def _not_modified(environ: dict, entry: Entry, by_date: bool) -> bool:
    sent = environ.get("HTTP_IF_NONE_MATCH")
    if sent is not None:
        tags = {tag.strip().removeprefix("W/").strip('"') for tag in sent.split(",")}
        return "*" in tags or entry.etag in tags or f"{entry.etag}-gz" in tags
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since and by_date:
        try:
            return email.utils.parsedate_to_datetime(since).timestamp() >= int(entry.stored_at)
        except (TypeError, ValueError):
            return False
    return False
