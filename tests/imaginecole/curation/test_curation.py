"""Curation by national teams: metadata, lesson order, publication, history and who may do it.

Every change must raise the module's version and change its fingerprint, or the next bundle
would not carry it to schools; a form sent back unchanged must change nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from imaginecole.accounts.models import User
from imaginecole.bundles.operations import build_country_bundle, to_source
from imaginecole.content.models import Module
from imaginecole.curation import operations as curation
from imaginecole.curation.models import ModuleVersion
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from imaginecole.search.indexing import sync_index
from tests.conftest import give_signing_key, load_content
from tests.imaginecole.national_helpers import (
    YY_CURRICULUM,
    add_accounts,
    client_as,
    copy_test_content,
    loaded_app,
    post,
)

UID = "zz-maths-fractions"
EDIT = f"/en/national/modules/{UID}/edit"
REORDER = f"/en/national/modules/{UID}/reorder"
PUBLISH = f"/en/national/modules/{UID}/publish"
UNPUBLISH = f"/en/national/modules/{UID}/unpublish"
DELETE = f"/en/national/modules/{UID}/delete"
HISTORY = f"/en/national/modules/{UID}/history"
LIST = "/en/national/zz/modules"
MODULE_PAGE = f"/en/modules/{UID}/"
FIRST, SECOND = "lire-une-fraction", "comparer"

YY_CURRICULUM_WITH_COMPETENCY = (
    YY_CURRICULUM
    + """
[[competencies]]
code = "YY-GEO-1"
subject = "geographie"
type = "competence"
label = { fr = "Lire une carte" }
"""
)
YY_MODULE = """\
id = "yy-geo-cartes"
version = 1
language = "fr"
levels = ["CE1"]
subject = "geographie"
competencies = ["YY-GEO-1"]
resource_type = "lesson"
licence = "CC-BY-4.0"

[title]
fr = "Lire une carte"

[summary]
fr = "Le nord, la légende et l'échelle."

[[authors]]
name = "Équipe Y"
"""


# ---------------------------------------------------------------------------- fixtures


@dataclasses.dataclass
class Server:
    """A national server with two countries (zz and yy) and one account of each kind."""

    app: object
    content: Path

    def client(self, who: str | None = None):
        return client_as(self.app, who)

    def module(self, uid: str = UID) -> Module:
        return db.session.scalar(select(Module).filter_by(uid=uid))

    def user(self, who: str) -> User:
        return db.session.scalar(select(User).filter_by(email=f"{who}@example.org"))

    def state(self, uid: str = UID) -> tuple:
        with self.app.app_context():
            module = self.module(uid)
            rows = db.session.scalar(
                select(db.func.count(ModuleVersion.id)).filter_by(module_uid=uid)
            )
            return (
                module.version,
                module.fingerprint,
                module.published,
                [lv.code for lv in module.levels],
                [lesson.slug for lesson in module.lessons],
                rows,
            )


def _server(root: Path) -> Server:
    content = copy_test_content(root / "content", YY_CURRICULUM_WITH_COMPETENCY)
    module_dir = content / "yy" / "modules" / "yy-geo-cartes"
    module_dir.mkdir(parents=True)
    (module_dir / "module.toml").write_text(YY_MODULE, encoding="utf-8")
    (module_dir / "01-lire-une-carte.md").write_text(
        "# Lire une carte\n\nLe nord est en haut.\n", encoding="utf-8"
    )
    app = loaded_app(root / "data", content)
    add_accounts(app)
    return Server(app, content)


@pytest.fixture
def server(tmp_path) -> Server:
    """A server of its own, for tests that change things."""
    return _server(tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Server:
    """One server for the permission tests, which must leave it exactly as it was."""
    return _server(tmp_path_factory.mktemp("curation"))


class Forms(HTMLParser):
    """The forms of a page with the values a browser would send (checked, selected, typed)."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({**attributes, "fields": []})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and "name" in attributes:
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            if kind not in ("submit", "button"):
                fields.append((attributes["name"], attributes.get("value", "")))
        elif tag == "textarea":
            self._textarea = [attributes["name"], ""]
        elif tag == "select":
            self._select = attributes["name"]
        elif tag == "option" and self._select and "selected" in attributes:
            fields.append((self._select, attributes.get("value", "")))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            self.forms[-1]["fields"].append(tuple(self._textarea))
            self._textarea = None
        elif tag == "select":
            self._select = None

    def fields(self, action_end: str) -> MultiDict:
        for form in self.forms:
            if form.get("action", "").endswith(action_end):
                return MultiDict(form["fields"])
        raise AssertionError(f"no form posting to …{action_end}")


def edit_form(client) -> MultiDict:
    """Return the metadata form as the edit page fills it, without the CSRF token."""
    page = client.get(EDIT)
    assert page.status_code == 200
    fields = Forms(page.get_data(as_text=True)).fields("/edit")
    assert fields.pop("csrf_token")
    return fields


def lesson_links(client, path: str) -> list[str]:
    """The lessons listed on a module page, in order (not its download or print links)."""
    html = client.get(path).get_data(as_text=True)
    html = html.partition('<ol class="lessons">')[2].partition("</ol>")[0]
    return re.findall(rf'href="/en/modules/{UID}/([a-z0-9-]+)"', html)


def search_modules(client, text: str) -> set[str]:
    response = client.get("/api/v1/search", query_string={"q": text})
    assert response.status_code == 200
    return {hit["module"] for hit in response.get_json()["results"]}


def change(server: Server, **changes) -> bool:
    """Apply metadata ``changes`` as the zz editor, through the service, and commit."""
    with server.app.app_context():
        module = server.module()
        form = dataclasses.replace(curation.MetadataForm.from_module(module), **changes)
        changed = curation.update_metadata(module, server.user("editor-zz"), form)
        db.session.commit()
        sync_index()
        return changed


# ---------------------------------------------------------------------------- versions


def test_the_fingerprint_is_computed_as_the_loader_computes_it(server):
    # Recomputing after a change must agree with a load, or an untouched module would look changed.
    with server.app.app_context():
        for module in db.session.scalars(select(Module)):
            assert to_source(module, blob_store()).fingerprint() == module.fingerprint


def test_a_form_sent_back_unchanged_changes_nothing(server):
    client = server.client("editor-zz")
    before = server.state()
    fields = edit_form(client)
    assert fields["version"] == "1" and fields.getlist("levels") == ["CM1"]
    response = post(client, EDIT, fields, follow_redirects=True)
    assert response.status_code == 200
    assert "Nothing changed" in response.get_data(as_text=True)
    assert server.state() == before  # same version, fingerprint, and no history row


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({"levels": ["CM1", "7e année"]}, "levels: CM1 → CM1, 7e année"),
        ({"subject": "sciences"}, "subject: mathematiques → sciences"),
        ({"competencies": ["ZZ-MATH-1-1", "ZZ-MATH-1"]}, "competencies: ZZ-MATH-1-1 → "),
        ({"assesses": []}, "assesses: ZZ-MATH-1 → —"),
        ({"resource_type": "exercise"}, "resource_type: lesson → exercise"),
        ({"licence": "CC0-1.0"}, "licence: CC-BY-SA-4.0 → CC0-1.0"),
        ({"attribution": "Awa Diallo, école de Zed"}, "attribution: Équipe d'essai → Awa"),
        ({"keywords": ["fractions", "partage", "moitié"]}, "keywords: fractions, partage → "),
        (
            {"title": {"fr": "Les fractions simples", "en": "Fractions", "ar": "الكسور"}},
            "title (fr): Les fractions → Les fractions simples",
        ),
        (
            {"summary": {"fr": "Partager une unité en parts égales.", "en": "Equal parts."}},
            "summary (en): Sharing a whole into equal parts. → Equal parts.; summary (ar):",
        ),
    ],
)
def test_each_kind_of_change_raises_the_version_by_one(server, changes, summary):
    version, fingerprint, *_ = server.state()
    assert change(server, **changes) is True
    new_version, new_fingerprint, *_ = server.state()
    assert (new_version, new_fingerprint != fingerprint) == (version + 1, True)
    with server.app.app_context():
        latest, baseline = curation.history(server.module())
        assert latest.version == new_version and summary in latest.summary
        assert latest.changed_by.email == "editor-zz@example.org"
        assert baseline.version == version and baseline.changed_by_id is None
        assert baseline.snapshot["fingerprint"] == fingerprint
        assert latest.snapshot["fingerprint"] == new_fingerprint
    # The same values again: nothing to do.
    assert change(server, **changes) is False
    assert server.state()[0] == new_version


def test_reordering_and_publishing_raise_the_version_and_same_again_does_nothing(server):
    with server.app.app_context():
        module, editor = server.module(), server.user("editor-zz")
        fingerprint = module.fingerprint
        assert curation.reorder_lessons(module, editor, [FIRST, SECOND]) is False
        assert curation.reorder_lessons(module, editor, [SECOND, FIRST]) is True
        assert module.version == 2 and module.fingerprint != fingerprint
        assert curation.set_published(module, editor, True) is False
        assert curation.set_published(module, editor, False) is True
        assert (module.version, module.published) == (3, False)
        assert curation.set_published(module, editor, True) is True
        rows = curation.history(module)
        assert [(r.version, r.summary) for r in rows] == [
            (4, "published: no → yes"),
            (3, "published: yes → no"),
            (2, f"lessons: {FIRST}, {SECOND} → {SECOND}, {FIRST}"),
            (1, ""),
        ]
        assert [lesson["slug"] for lesson in rows[1].snapshot["lessons"]] == [SECOND, FIRST]
        # A moved lesson keeps its own fingerprint: only its place changed.
        first = {item["slug"]: item["fingerprint"] for item in rows[3].snapshot["lessons"]}
        assert first == {item["slug"]: item["fingerprint"] for item in rows[2].snapshot["lessons"]}
        with pytest.raises(curation.CurationError) as refused:
            curation.reorder_lessons(module, editor, [FIRST])
        assert refused.value.problems["lessons"].code == "invalid_order"


def test_a_change_leaves_the_commit_to_the_caller(server):
    before = server.state()
    with server.app.app_context():
        module, editor = server.module(), server.user("editor-zz")
        form = dataclasses.replace(curation.MetadataForm.from_module(module), levels=["7e année"])
        assert curation.update_metadata(module, editor, form) is True
        assert curation.reorder_lessons(module, editor, [SECOND, FIRST]) is True
        assert curation.set_published(module, editor, False) is True
        assert module.version == 4
        db.session.rollback()
    assert server.state() == before


def test_a_save_that_fails_midway_leaves_nothing_written(server, monkeypatch):
    client = server.client("editor-zz")
    before = server.state()
    fields = edit_form(client)
    fields.setlist("levels", ["CM1", "7e année"])

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is gone")

    # After the history row and the new version are flushed, before anything is committed.
    monkeypatch.setattr(curation, "changes_between", fail)
    assert post(client, EDIT, fields).status_code == 500
    assert server.state() == before


def test_the_history_page_lists_each_version_and_what_changed(server):
    change(server, levels=["CM1", "7e année"], licence="CC-BY-4.0")
    client = server.client("editor-zz")
    html = client.get(HISTORY).get_data(as_text=True)
    assert "Editor Zz" in html and "Content files or a bundle" in html
    assert "Classes: <del>CM1</del> → <ins>CM1, 7e année</ins>" in html
    assert "Licence: <del>CC-BY-SA-4.0</del> → <ins>CC-BY-4.0</ins>" in html
    assert "Version 2" in html


def test_a_change_based_on_an_older_version_is_refused_and_kept_on_the_page(server):
    client = server.client("editor-zz")
    fields = edit_form(client)
    change(server, licence="CC0-1.0")  # another editor saves first
    before = server.state()
    fields["attribution"] = "Mon équipe"
    response = post(client, EDIT, fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Someone else changed this module" in html and "Mon équipe" in html
    assert server.state() == before
    # Having seen the message, saving again is deliberate.
    again = Forms(html).fields("/edit")
    assert again["version"] == "2"
    assert post(client, EDIT, again).status_code == 303
    assert server.state()[0] == 3


# ---------------------------------------------------------------------------- validation


def test_problems_are_shown_per_field_and_nothing_typed_is_lost(server):
    client = server.client("editor-zz")
    before = server.state()
    fields = edit_form(client)
    fields.setlist("levels", ["CM1", "CM7"])
    fields["subject"] = "geographie"  # a subject of yy, not zz
    fields["licence"] = "CC-BY-NC-4.0"
    fields["title_fr"] = ""
    fields["title_en"] = "Fractions for everyone"
    fields["keywords"] = "fractions, " + "x" * 61
    response = post(client, EDIT, fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    problems = dict(re.findall(r'<p class="error" id="([a-z_]+)-problem">([^<]*)</p>', html))
    assert problems == {
        "title_fr": "This field is required.",
        "levels": "The class “CM7” is not in the curriculum of Zedland.",
        "subject": "The subject “geographie” is not in the curriculum of Zedland.",
        "licence": "“CC-BY-NC-4.0” is not an open licence we accept; choose one from the list.",
        "keywords": "This text is too long (at most 60 characters).",
    }
    assert 'value="Fractions for everyone"' in html and "x" * 61 in html
    assert server.state() == before


def test_the_service_refuses_the_same_problems(server):
    with server.app.app_context():
        module, editor = server.module(), server.user("editor-zz")
        form = curation.MetadataForm.from_module(module)
        bad = dataclasses.replace(
            form,
            levels=["CE1"],  # a level of yy
            competencies=["YY-GEO-1"],
            resource_type="poster",
            licence="All rights reserved",
            attribution="",
            summary={"fr": "bad\x00text"},
        )
        with pytest.raises(curation.CurationError) as refused:
            curation.update_metadata(module, editor, bad)
        codes = {name: p.code for name, p in refused.value.problems.items()}
        assert codes == {
            "levels": "unknown_level",
            "competencies": "unknown_competency",
            "resource_type": "unknown_resource_type",
            "licence": "closed_licence",
            "attribution": "required",
            "summary_fr": "invalid_text",
        }
        with pytest.raises(curation.CurationError) as refused:
            curation.update_metadata(module, editor, dataclasses.replace(form, levels=[]))
        assert refused.value.problems["levels"].code == "required"
    assert server.state()[0] == 1


# ---------------------------------------------------------------------------- publication


def test_unpublishing_hides_a_module_from_catalogue_and_search_and_publishing_brings_it_back(
    server,
):
    reader = server.app.test_client()
    pages = [MODULE_PAGE, f"/en/modules/{UID}/{FIRST}", f"/en/modules/{UID}/download.zip"]
    assert all(reader.get(page).status_code == 200 for page in pages)
    assert UID in search_modules(reader, "fractions")
    assert f"/en/modules/{UID}/" in reader.get("/en/zz/cm1/mathematiques/").get_data(as_text=True)

    editor = server.client("editor-zz")
    response = post(editor, UNPUBLISH, {"version": "1", "confirm": "1"}, follow_redirects=True)
    assert "Unpublished as version 2" in response.get_data(as_text=True)
    assert all(reader.get(page).status_code == 404 for page in pages)
    assert UID not in search_modules(reader, "fractions")
    subject_page = reader.get("/en/zz/cm1/mathematiques/").get_data(as_text=True)
    assert f"/en/modules/{UID}/" not in subject_page
    listing = editor.get(LIST).get_data(as_text=True)
    assert f"/en/national/modules/{UID}/edit" in listing and "Unpublished" in listing

    response = post(editor, PUBLISH, {"version": "2"}, follow_redirects=True)
    assert "Published as version 3" in response.get_data(as_text=True)
    assert all(reader.get(page).status_code == 200 for page in pages)
    assert UID in search_modules(reader, "fractions")


def test_the_curation_list_filters_by_class_and_subject(server):
    client = server.client("editor-zz")
    every = client.get(LIST).get_data(as_text=True)
    assert all(uid in every for uid in (UID, "zz-sciences-eau", "zz-histoire-royaume"))
    assert "yy-geo-cartes" not in every
    by_level = client.get(LIST, query_string={"level": "7e-annee"}).get_data(as_text=True)
    assert "zz-histoire-royaume" in by_level and "zz-sciences-eau" in by_level
    assert UID not in by_level
    both = client.get(LIST, query_string={"level": "cm1", "subject": "sciences"})
    html = both.get_data(as_text=True)
    assert "zz-sciences-eau" in html and UID not in html and "zz-histoire-royaume" not in html


# ---------------------------------------------------------------------------- lesson order


def test_reordering_by_numbers_changes_the_module_page_and_the_pager(server):
    reader = server.app.test_client()
    assert lesson_links(reader, MODULE_PAGE)[:2] == [FIRST, SECOND]
    client = server.client("editor-zz")
    fields = Forms(client.get(EDIT).get_data(as_text=True)).fields("/reorder")
    assert fields[f"position-{FIRST}"] == "1" and fields[f"position-{SECOND}"] == "2"
    fields[f"position-{SECOND}"] = "1"  # typing 1 puts the lesson first
    response = post(client, REORDER, fields, follow_redirects=True)
    assert "Lesson order saved as version 2" in response.get_data(as_text=True)
    assert lesson_links(reader, MODULE_PAGE)[:2] == [SECOND, FIRST]
    first_page = reader.get(f"/en/modules/{UID}/{SECOND}").get_data(as_text=True)
    assert 'rel="prev"' not in first_page
    assert f'rel="next" href="/en/modules/{UID}/{FIRST}"' in first_page
    second_page = reader.get(f"/en/modules/{UID}/{FIRST}").get_data(as_text=True)
    assert f'rel="prev" href="/en/modules/{UID}/{SECOND}"' in second_page
    assert 'rel="next"' not in second_page


def test_the_arrows_move_a_lesson_without_javascript(server):
    client = server.client("editor-zz")
    fields = Forms(client.get(EDIT).get_data(as_text=True)).fields("/reorder")
    fields["move"] = f"down:{FIRST}"
    assert post(client, REORDER, fields).status_code == 303
    assert server.state()[4] == [SECOND, FIRST]
    fields = Forms(client.get(EDIT).get_data(as_text=True)).fields("/reorder")
    fields["move"] = f"up:{FIRST}"
    post(client, REORDER, fields)
    assert server.state()[4] == [FIRST, SECOND] and server.state()[0] == 3


def test_a_position_that_is_not_a_number_changes_nothing(server):
    client = server.client("editor-zz")
    before = server.state()
    fields = Forms(client.get(EDIT).get_data(as_text=True)).fields("/reorder")
    fields[f"position-{FIRST}"] = "first"
    response = post(client, REORDER, fields, follow_redirects=True)
    assert "Give every lesson a position number" in response.get_data(as_text=True)
    assert server.state() == before


# ---------------------------------------------------------------------------- permissions


def _every_request(client):
    """Every curation page and form of module UID, and of the zz list."""
    yield "GET", LIST, {}
    yield "GET", EDIT, {}
    yield "GET", HISTORY, {}
    yield "POST", EDIT, {"version": "1", "title_fr": "Pris", "levels": "CM1"}
    yield "POST", REORDER, {"version": "1", f"position-{SECOND}": "1"}
    yield "GET", UNPUBLISH, {}
    yield "POST", UNPUBLISH, {"version": "1", "confirm": "1"}
    yield "GET", DELETE, {}
    yield "POST", DELETE, {"version": "1", "confirm": "1"}
    yield "POST", PUBLISH, {"version": "1"}


def _send(client, method, url, data, **kwargs):
    if method == "GET":
        return client.get(url)
    return post(client, url, data, **kwargs)


def test_an_editor_of_another_country_finds_nothing(shared):
    before = shared.state()
    client = shared.client("editor-yy")
    for method, url, data in _every_request(client):
        assert _send(client, method, url, data).status_code == 404, (method, url)
    # Their own country works.
    assert client.get("/en/national/yy/modules").status_code == 200
    assert client.get("/en/national/modules/yy-geo-cartes/edit").status_code == 200
    assert shared.state() == before


def test_a_teacher_is_forbidden_and_a_visitor_is_sent_to_sign_in(shared):
    before = shared.state()
    teacher = shared.client("teacher-zz")
    for method, url, data in _every_request(teacher):
        assert _send(teacher, method, url, data).status_code == 403, (method, url)
    visitor = shared.client()
    for method, url, data in _every_request(visitor):
        # A visitor's form must come from this site (no session, so no token to check).
        response = _send(visitor, method, url, data, headers={"Origin": "http://localhost"})
        assert response.status_code == 302, (method, url)
        assert "/en/login?next=" in response.headers["Location"]
    assert shared.state() == before


def test_every_form_needs_the_csrf_token(shared):
    before = shared.state()
    client = shared.client("editor-zz")
    for method, url, data in _every_request(client):
        if method == "POST":
            assert post(client, url, data, token=False).status_code == 403, url
    assert shared.state() == before


def test_the_service_checks_permission_too(shared):
    with shared.app.app_context():
        module = shared.module()
        form = curation.MetadataForm.from_module(module)
        for who in ("editor-yy", "teacher-zz"):
            user = shared.user(who)
            with pytest.raises(PermissionError):
                curation.update_metadata(module, user, dataclasses.replace(form, levels=[]))
            with pytest.raises(PermissionError):
                curation.reorder_lessons(module, user, [SECOND, FIRST])
            with pytest.raises(PermissionError):
                curation.set_published(module, user, False)
    assert shared.state()[0] == 1


def test_an_admin_curates_every_country(server):
    client = server.client("admin")
    for url in (LIST, EDIT, HISTORY, "/en/national/yy/modules"):
        assert client.get(url).status_code == 200, url
    assert post(client, UNPUBLISH, {"version": "1", "confirm": "1"}).status_code == 303
    version, _, published, *_ = server.state()
    assert (version, published) == (2, False)


def test_the_dashboard_links_to_the_curation_page(server):
    html = server.client("editor-zz").get("/en/national/").get_data(as_text=True)
    assert 'href="/en/national/zz/modules"' in html


# ---------------------------------------------------------------------------- bundles and loads


def test_the_next_bundle_carries_each_change(server):
    give_signing_key(server.app)
    with server.app.app_context():
        full = build_country_bundle("zz")
        db.session.commit()
        assert full.version == 1
    change(server, levels=["CM1", "7e année"])
    with server.app.app_context():
        delta = json.loads(build_country_bundle("zz", since=1).manifest)
        db.session.commit()
    assert [(m["id"], m["version"]) for m in delta["modules"]] == [(UID, 2)]
    assert delta["modules"][0]["levels"] == ["CM1", "7e année"]
    assert delta["index"][UID]["version"] == 2

    with server.app.app_context():
        curation.set_published(server.module(), server.user("editor-zz"), False)
        db.session.commit()
        removal = json.loads(build_country_bundle("zz", since=2).manifest)
    assert removal["tombstones"] == [UID] and removal["modules"] == []


def test_loading_the_original_files_again_leaves_the_curated_version(server):
    change(server, levels=["CM1", "7e année"])
    curated = server.state()
    report = load_content(server.app, server.content)
    refused = [p for p in report.problems if p.path == UID]
    assert len(refused) == 1 and refused[0].field == "version"
    assert "older than the loaded version 2; not loaded" in refused[0].message
    assert report.modules_unchanged == 3 and not report.modules_updated
    assert server.state() == curated  # the curated levels, version and history are all kept


def test_a_newer_file_replaces_the_curated_metadata_but_not_its_history_or_publication(server):
    change(server, levels=["CM1", "7e année"])
    with server.app.app_context():
        curation.set_published(server.module(), server.user("editor-zz"), False)
        db.session.commit()
    toml = server.content / "zz" / "modules" / UID / "module.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("version = 1", "version = 4"), encoding="utf-8"
    )
    report = load_content(server.app, server.content)
    assert not report.problems and report.modules_updated == 1
    version, _, published, levels, _, rows = server.state()
    # The file is the newer source: its levels win. The history still shows what was curated,
    # and an unpublished module is not published again by a load.
    assert (version, published, levels, rows) == (4, False, ["CM1"], 3)
    with server.app.app_context():
        curated = curation.history(server.module())[0]
        assert curated.version == 3 and curated.snapshot["levels"] == ["CM1", "7e année"]
