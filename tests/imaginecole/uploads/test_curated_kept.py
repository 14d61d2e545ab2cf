"""Sending a file again never silently undoes what editors curated in the browser.

The upload report shows, per module, what the file would change against what editors changed;
the editor keeps the curated fields (the default), takes the file, or leaves the module out.
The history says who and what made every version.
"""

from __future__ import annotations

from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.curation import operations as curation
from imaginecole.extensions import db
from tests.imaginecole.national_helpers import Page, post
from tests.imaginecole.uploads.test_uploads import (
    ZZ_MODULES,
    make_course,
    make_server,
    send_zip,
    upload_id_of,
    zip_folder,
    zz_content,
)

COURSE_FIELDS = {"levels": "CM1", "subject": "sciences", "licence": "CC-BY-4.0"}
CURATED = "Le cycle de l'eau, relu par l'équipe"


def _send_course(server, payload: bytes) -> int:
    return upload_id_of(
        send_zip(server.client("editor-zz"), payload, "cours-eau.zip", **COURSE_FIELDS)
    )


def _publish(server, upload_id: int, **form) -> int:
    client = server.client("editor-zz")
    response = post(client, f"/en/national/zz/uploads/{upload_id}/publish", form)
    assert response.status_code in (302, 303), response.status_code
    assert server.upload(upload_id).status == "published"
    return upload_id


def _publish_course(server, payload: bytes, **form) -> int:
    return _publish(server, _send_course(server, payload), **form)


def _curate_title(server, uid: str, title: str) -> None:
    with server.app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        editor = db.session.scalar(select(User).filter_by(email="editor2-zz@example.org"))
        form = curation.MetadataForm.from_module(module)
        form.title = {**form.title, "fr": title}
        assert curation.update_metadata(module, editor, form)
        db.session.commit()


def _module(server, uid: str) -> Module:
    with server.app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        db.session.expunge(module)
        return module


def _first_uid(server) -> str:
    return sorted(server.module_ids())[0]


def _history(server, uid: str) -> list[tuple[int, str, str, str]]:
    """Return (version, origin, account, reference) of each version, oldest first."""
    with server.app.app_context():
        return [
            (row.version, row.origin, row.changed_by.email if row.changed_by else "", row.reference)
            for row in reversed(curation.history(_attached(uid)))
        ]


def _attached(uid: str) -> Module:
    return db.session.scalar(select(Module).filter_by(uid=uid))


def _report_page(server, upload_id: int) -> str:
    client = server.client("editor-zz")
    return Page(client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)).text


def test_the_same_course_sent_again_keeps_the_curated_title(tmp_path):
    server = make_server(tmp_path)
    payload = zip_folder(make_course(tmp_path), "cours-eau/")
    _publish_course(server, payload)
    uid = _first_uid(server)
    _curate_title(server, uid, CURATED)
    curated_version = _module(server, uid).version

    _publish_course(server, payload)

    module = _module(server, uid)
    assert module.title["fr"] == CURATED
    assert module.version == curated_version  # nothing changed, nothing for schools to install


def test_the_report_shows_what_the_file_changes_against_the_curated_fields(tmp_path):
    server = make_server(tmp_path)
    course = make_course(tmp_path)
    _publish_course(server, zip_folder(course, "cours-eau/"))
    uid = "zz-cours-eau-evaporation"
    _curate_title(server, uid, CURATED)
    # The authors change the chapter's heading and add a sentence to its first lesson.
    page = course / "docs" / "evaporation" / "cours.md"
    page.write_text("# L'évaporation de l'eau\n\nAu soleil, l'eau s'évapore vite.\n", "utf-8")

    upload_id = _send_course(server, zip_folder(course, "cours-eau/"))
    entry = next(m for m in server.upload(upload_id).valid_modules if m["id"] == uid)
    assert entry["state"] == "changed" and entry["curated"]
    title = next(d for d in entry["differences"] if d["field"] == "title")
    assert title == {
        "field": "title",
        "lang": "fr",
        "server": CURATED,
        "file": "L'évaporation de l'eau",
        "curated": True,
    }
    text = _report_page(server, upload_id)
    assert "What the file changes on this server" in text
    assert "changed in the browser" in text
    assert "Keep what editors changed, take the rest from the file" in text

    _publish(server, upload_id)  # keeps the curated title, takes the new lesson text
    module = _module(server, uid)
    assert module.title["fr"] == CURATED
    with server.app.app_context():
        [cours] = [lesson for lesson in _attached(uid).lessons if lesson.slug == "cours"]
        assert "vite" in cours.texts["fr"].markdown
    history = _history(server, uid)
    assert [origin for _v, origin, _who, _ref in history] == ["upload", "curation", "upload"]
    assert history[0][2] == history[2][2] == "editor-zz@example.org"
    assert history[1][2] == "editor2-zz@example.org"
    assert history[2][3] == f"upload {upload_id}: cours-eau.zip"
    page = server.client("editor-zz").get(f"/en/national/modules/{uid}/history")
    assert "Upload in the browser" in page.get_data(as_text=True)
    assert "Changed in the browser" in page.get_data(as_text=True)


def test_the_editor_may_take_the_file_or_leave_a_module_out(tmp_path):
    server = make_server(tmp_path)
    payload = zip_folder(make_course(tmp_path), "cours-eau/")
    _publish_course(server, payload)
    first, second = "zz-cours-eau-pluie", "zz-cours-eau-evaporation"
    _curate_title(server, first, CURATED)
    _curate_title(server, second, CURATED)
    before = _module(server, second).version

    upload_id = _send_course(server, payload)
    assert {m["id"]: m["state"] for m in server.upload(upload_id).valid_modules}[first] == (
        "unchanged"
    )
    _publish(server, upload_id, **{f"choice-{first}": "file", f"choice-{second}": "skip"})

    assert _module(server, first).title["fr"] == "La pluie"
    assert _module(server, second).title["fr"] == CURATED
    assert _module(server, second).version == before


def test_an_unknown_choice_is_refused_and_publishes_nothing(tmp_path):
    server = make_server(tmp_path)
    payload = zip_folder(make_course(tmp_path), "cours-eau/")
    _publish_course(server, payload)
    uid = _first_uid(server)
    _curate_title(server, uid, CURATED)
    upload_id = _send_course(server, payload)
    client = server.client("editor-zz")
    response = post(
        client, f"/en/national/zz/uploads/{upload_id}/publish", {f"choice-{uid}": "drop"}
    )
    assert response.status_code == 302
    assert server.upload(upload_id).status == "valid"  # still publishable
    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "Choose what to do with each module" in Page(page).text
    assert _module(server, uid).title["fr"] == CURATED


def test_the_same_content_zip_sent_again_is_not_older_and_keeps_curation(tmp_path):
    server = make_server(tmp_path)
    payload = zip_folder(zz_content(tmp_path), prefix="zz/")
    client = server.client("editor-zz")
    _publish(server, upload_id_of(send_zip(client, payload, "zedland.zip")))
    uid = ZZ_MODULES[2]
    _curate_title(server, uid, CURATED)

    upload_id = upload_id_of(send_zip(client, payload, "zedland.zip"))
    record = server.upload(upload_id)
    assert record.status == "valid", record.problems  # version 1 is what editors started from
    assert {m["state"] for m in record.valid_modules} == {"unchanged"}
    assert record.report["notes"] == []
    _publish(server, upload_id)
    module = _module(server, uid)
    assert module.title["fr"] == CURATED and module.version == 2
