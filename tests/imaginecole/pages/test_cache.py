"""The page cache: stored pages for readers who are not signed in, never a stale or personal one."""

from __future__ import annotations

import gzip
import io
import shutil
import threading
import zipfile

import pytest
from sqlalchemy import delete, select
from werkzeug.security import generate_password_hash

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.catalog import queries
from imaginecole.catalog import views as catalog_views
from imaginecole.content.models import Lesson, Module
from imaginecole.content.operations import load_tree, remove_module
from imaginecole.curation.operations import set_published
from imaginecole.curriculum.models import Competency
from imaginecole.curriculum.operations import (
    apply_curriculum,
    check_toml,
    export_toml,
    rename_level,
)
from imaginecole.extensions import db
from imaginecole.pages.cache import CACHEABLE, PageCache, PageStore, StaticFiles
from imaginecole.pages.generation import generation_in_session
from imaginecole.pages.setup import code_version
from imaginecole.search.indexing import sync_index
from sync.content import read_content
from tests.conftest import load_content, make_app

MODULE_PAGE = "/fr/modules/zz-maths-fractions/"
PASSWORD = "correct horse battery"
EDITOR = "moussa@education.zz"


@pytest.fixture
def app(tmp_path):
    """A server of its own with zz loaded and an editor, for tests that write."""
    app = make_app(tmp_path / "data")
    assert not load_content(app).problems
    with app.app_context():
        create_user(EDITOR, "Moussa Ba", PASSWORD, "editor", "zz")
        user = db.session.scalar(select(User).filter_by(email=EDITOR))
        user.password_hash = generate_password_hash(PASSWORD, "scrypt:1024:8:1")
        db.session.commit()
    return app


def lesson_url(app, uid: str = "zz-maths-fractions", position: int = 0) -> str:
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        return f"/fr/modules/{uid}/{module.lessons[position].slug}"


def sign_in(app):
    client = app.test_client()
    response = client.post(
        "/fr/login",
        data={"email": EDITOR, "password": PASSWORD},
        headers={"Origin": "http://localhost"},
    )
    assert response.status_code == 302
    return client


def break_rendering(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(queries, "get_module", broken)


# ---------------------------------------------------------------------------- serving


def test_a_page_read_again_is_served_without_rendering_it(client, monkeypatch):
    first = client.get(MODULE_PAGE)
    break_rendering(monkeypatch)

    again = client.get(MODULE_PAGE)

    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]


def test_a_browser_that_has_the_page_gets_a_304_and_gzip_when_it_asks(client):
    plain = client.get(MODULE_PAGE)
    etag = plain.headers["ETag"]

    unchanged = client.get(MODULE_PAGE, headers={"If-None-Match": etag})
    packed = client.get(MODULE_PAGE, headers={"Accept-Encoding": "gzip, deflate"})
    refused = client.get(MODULE_PAGE, headers={"Accept-Encoding": "gzip;q=0"})

    assert unchanged.status_code == 304 and unchanged.data == b""
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data
    assert (
        client.get(MODULE_PAGE, headers={"If-None-Match": packed.headers["ETag"]}).status_code
        == 304
    )
    assert plain.headers["Cache-Control"] == "no-cache"  # asked again, since content may change


def test_a_page_that_is_not_cached_is_still_compressed_and_tagged(client):
    page = client.get("/fr/login", headers={"Accept-Encoding": "gzip"})

    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"<form" in gzip.decompress(page.data)
    assert client.get("/fr/login", headers={"If-None-Match": page.headers["ETag"]}).status_code == (
        304
    )


def test_static_files_are_kept_a_year_and_the_favicon_exists(client):
    home = client.get("/fr/").get_data(as_text=True)
    stylesheet = home.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    icon = home.split('rel="icon" href="', 1)[1].split('"', 1)[0]

    css = client.get(stylesheet, headers={"Accept-Encoding": "gzip"})
    favicon = client.get("/favicon.ico")

    assert (
        "immutable" in css.headers["Cache-Control"]
        and "max-age=31536000" in (css.headers["Cache-Control"])
    )
    assert css.headers["Content-Encoding"] == "gzip"
    assert client.get(stylesheet, headers={"If-None-Match": css.headers["ETag"]}).status_code == (
        304
    )
    modified = client.get(stylesheet, headers={"If-Modified-Since": css.headers["Last-Modified"]})
    assert modified.status_code == 304
    assert favicon.status_code == 200 and favicon.mimetype == "image/x-icon"
    assert favicon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get(icon).data == favicon.data
    assert client.get("/static/../app.py").status_code == 404


# ---------------------------------------------------------------------------- never personal


def test_a_signed_in_editor_never_gets_the_page_stored_for_readers(app):
    reader = app.test_client()
    assert "Moussa Ba" not in reader.get(MODULE_PAGE).get_data(as_text=True)

    editor = sign_in(app)
    page = editor.get(MODULE_PAGE).get_data(as_text=True)

    assert "Moussa Ba" in page
    assert 'name="csrf_token"' in page


def test_a_page_seen_by_a_signed_in_editor_is_never_shown_to_readers(app):
    editor = sign_in(app)
    assert "Moussa Ba" in editor.get(MODULE_PAGE).get_data(as_text=True)

    reader = app.test_client()
    page = reader.get(MODULE_PAGE).get_data(as_text=True)

    assert "Moussa Ba" not in page and "csrf_token" not in page
    assert "Moussa Ba" in editor.get(MODULE_PAGE).get_data(as_text=True)


def test_a_page_that_sets_a_cookie_fails_or_is_not_public_is_never_stored(app, tmp_path):
    answers = iter(
        [
            ("200 OK", [("Content-Type", "text/html"), ("Set-Cookie", "a=b")], True),
            ("500 INTERNAL SERVER ERROR", [("Content-Type", "text/html")], True),
            ("200 OK", [("Content-Type", "text/html")], False),
        ]
    )
    calls = []

    def inner(environ, start_response):
        status, headers, public = next(answers)
        environ[CACHEABLE] = public
        calls.append(status)
        start_response(status, headers)
        return [b"<p>Bonjour</p>"]

    store = PageStore(tmp_path / "pages", 1 << 20, 1 << 20)
    cache = PageCache(app, inner, store, lambda: 7, StaticFiles(tmp_path, "/static"))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/fr/x", "QUERY_STRING": ""}
    for _ in range(3):
        assert b"".join(cache(dict(environ), lambda status, headers, exc_info=None: None))

    assert len(calls) == 3
    assert not (tmp_path / "pages" / "7").exists()


def test_pages_stored_by_another_version_of_the_app_are_not_served(app, tmp_path):
    calls = []

    def inner(environ, start_response):
        environ[CACHEABLE] = True
        calls.append(1)
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<p>Bonjour</p>"]

    store = PageStore(tmp_path / "pages", 1 << 20, 1 << 20)
    static = StaticFiles(tmp_path, "/static")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/fr/x", "QUERY_STRING": ""}
    for code in ("1.0", "1.0", "1.1"):
        cache = PageCache(app, inner, store, lambda: 7, static, code=code)
        b"".join(cache(dict(environ), lambda status, headers, exc_info=None: None))

    assert len(calls) == 2


def test_the_code_version_follows_the_templates(tmp_path):
    package = tmp_path / "package"
    (package / "templates").mkdir(parents=True)
    page = package / "templates" / "page.html"
    page.write_text("<p>{{ text }}</p>")
    before = code_version(package, tmp_path / "catalogs")

    page.write_text("<p>{{ text }}!</p>")

    assert code_version(package, tmp_path / "catalogs") != before


# ---------------------------------------------------------------------------- every write


def cached_then(app, url: str, write) -> tuple[str, int]:
    """Read ``url`` (now stored), apply ``write`` and commit; return the page read after."""
    client = app.test_client()
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    with app.app_context():
        write()
        db.session.commit()
    after = client.get(url)
    return after.get_data(as_text=True), after.status_code


def test_a_content_load_retires_the_pages_of_the_old_content(app, content_copy):
    url = lesson_url(app)
    lesson = content_copy / "zz" / "modules" / "zz-maths-fractions" / "01-lire-une-fraction.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nUne mangue partagée en trois.\n", "utf-8")
    toml = lesson.parent / "module.toml"
    toml.write_text(toml.read_text("utf-8").replace("version = 1", "version = 2"), "utf-8")

    page, status = cached_then(app, url, lambda: load_tree(read_content(content_copy)))

    assert status == 200 and "mangue" in page


def test_stored_search_pages_follow_the_index_which_follows_the_commit(app, content_copy):
    lesson = content_copy / "zz" / "modules" / "zz-maths-fractions" / "01-lire-une-fraction.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nUne mangue partagée en trois.\n", "utf-8")
    toml = lesson.parent / "module.toml"
    toml.write_text(toml.read_text("utf-8").replace("version = 1", "version = 2"), "utf-8")
    client = app.test_client()
    for _ in range(2):
        assert client.get("/api/v1/search?q=mangue").get_json()["total"] == 0

    with app.app_context():
        load_tree(read_content(content_copy))
        db.session.commit()
        # Committed: Whoosh's index is not written yet, and searches show what it holds;
        # PostgreSQL's search rows were written in the commit itself.
        found = client.get("/api/v1/search?q=mangue").get_json()["total"]
        assert (found == 0) if app.config["SEARCH_ENGINE"] == "whoosh" else (found > 0)
        sync_index()

    assert client.get("/api/v1/search?q=mangue").get_json()["total"] > 0
    assert "zz-maths-fractions" in client.get("/fr/search?q=mangue").get_data(as_text=True)


def test_unpublishing_a_module_retires_its_pages(app):
    def unpublish():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        set_published(module, db.session.scalar(select(User).filter_by(email=EDITOR)), False)

    assert cached_then(app, MODULE_PAGE, unpublish)[1] == 404


def test_removing_a_module_retires_its_pages(app):
    assert cached_then(app, MODULE_PAGE, lambda: remove_module("zz-maths-fractions"))[1] == 404


def test_a_curriculum_change_retires_the_pages_that_show_it(app):
    def rename():
        current, problems = check_toml("zz", export_toml("zz"))
        assert not problems
        level = current.levels[0]
        renamed = rename_level(current, level.code, {"fr": "Niveau renommé"})
        editor = db.session.scalar(select(User).filter_by(email=EDITOR))
        assert apply_curriculum("zz", renamed, editor, confirm_orphans=True).status == "applied"

    page, status = cached_then(app, "/fr/zz/", rename)

    assert status == 200 and "Niveau renommé" in page


def test_a_bulk_statement_on_content_tables_moves_the_generation_on(app):
    with app.app_context():
        before = generation_in_session()
        db.session.execute(delete(Competency).where(Competency.code == "nothing"))
        db.session.commit()
        assert generation_in_session() != before


def test_private_writes_leave_the_stored_pages_alone(app):
    with app.app_context():
        before = generation_in_session()
        create_user("awa@ecole-a.zz", "Awa Diop", PASSWORD, "teacher", "zz", "École A")
        db.session.commit()
        assert generation_in_session() == before


def test_a_rolled_back_write_changes_nothing(app):
    with app.app_context():
        before = generation_in_session()
        remove_module("zz-maths-fractions")
        db.session.rollback()
        assert generation_in_session() == before


def test_pages_are_kept_in_the_folder_every_worker_reads(app):
    client = app.test_client()
    first = client.get(MODULE_PAGE).data
    store = app.extensions["page_store"]
    store.memory.clear()
    store.memory_used = 0

    assert any(path.is_file() for path in store.folder.rglob("*"))
    with app.app_context():
        remove_module("zz-histoire-royaume")  # another module: this page's text stays
        db.session.commit()
    assert client.get(MODULE_PAGE).data == first
    assert [folder.name for folder in store.folder.iterdir()] == [str(store.generation)]


def test_the_page_folder_stays_within_its_size(app, tmp_path):
    store = PageStore(tmp_path / "pages", max_bytes=64 * 1024, memory_bytes=1024)
    client = app.test_client()
    app.wsgi_app.store = store
    for number in range(60):
        assert client.get(f"{MODULE_PAGE}?n={number}").status_code == 200

    total = sum(path.stat().st_size for path in store.folder.rglob("*") if path.is_file())
    assert total <= 64 * 1024
    shutil.rmtree(store.folder)


# ---------------------------------------------------------------------------- one snapshot


def test_a_page_is_read_from_one_snapshot_while_its_module_is_removed(app, monkeypatch):
    url = lesson_url(app)
    with app.app_context():
        lesson = db.session.scalar(select(Lesson).filter_by(slug=url.rsplit("/", 1)[1]))
        words = lesson.text_in("fr").html[-200:]  # the end of the lesson: read last
    original = queries.get_lesson

    def remove_meanwhile(module, slug):
        found = original(module, slug)

        def other_worker() -> None:  # an import committing while this page renders
            with app.app_context():
                remove_module("zz-maths-fractions")
                db.session.commit()

        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join()
        return found

    monkeypatch.setattr(queries, "get_lesson", remove_meanwhile)
    client = app.test_client()

    page = client.get(url)

    assert page.status_code == 200
    assert words in page.get_data(as_text=True)
    monkeypatch.setattr(queries, "get_lesson", original)
    assert client.get(url).status_code == 404  # the next reader sees the removal


def test_the_offline_zip_is_served_from_the_store_until_the_content_changes(
    app, content_copy, monkeypatch
):
    url = "/fr/modules/zz-maths-fractions/download.zip"
    client = app.test_client()
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "application/zip"
    monkeypatch.setattr(catalog_views, "module_zip", lambda *args: pytest.fail("built again"))

    again = client.get(url)

    assert again.status_code == 200 and again.data == first.data
    assert again.headers["Content-Disposition"] == first.headers["Content-Disposition"]
    assert "mangue" not in zip_text(first.data)

    monkeypatch.undo()
    lesson = content_copy / "zz" / "modules" / "zz-maths-fractions" / "01-lire-une-fraction.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nUne mangue partagée en trois.\n", "utf-8")
    toml = lesson.parent / "module.toml"
    toml.write_text(toml.read_text("utf-8").replace("version = 1", "version = 2"), "utf-8")
    with app.app_context():
        load_tree(read_content(content_copy))
        db.session.commit()

    after = client.get(url)

    assert after.status_code == 200 and "mangue" in zip_text(after.data)
    assert "-v2-fr.zip" in after.headers["Content-Disposition"]


def zip_text(data: bytes) -> str:
    """Return the text of every HTML and Markdown file of a ZIP, one after another."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith((".html", ".md"))
        )
