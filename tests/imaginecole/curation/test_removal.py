"""Unpublishing and deleting a module: a page that says what happens first, a command, history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from imaginecole.bundles.operations import build_country_bundle
from imaginecole.content.models import Module
from imaginecole.curation import operations as curation
from imaginecole.extensions import db
from tests.conftest import give_signing_key
from tests.imaginecole.curation.test_curation import (
    DELETE,
    EDIT,
    LIST,
    MODULE_PAGE,
    UID,
    UNPUBLISH,
    Server,
    _server,
)
from tests.imaginecole.national_helpers import Page, post


@pytest.fixture
def server(tmp_path) -> Server:
    return _server(tmp_path)


def _exists(server, uid: str = UID) -> bool:
    with server.app.app_context():
        return db.session.scalar(select(Module.id).filter_by(uid=uid)) is not None


def test_unpublishing_asks_first_and_says_what_happens(server):
    editor = server.client("editor-zz")
    edit = editor.get(EDIT).get_data(as_text=True)
    assert f'href="{UNPUBLISH}"' in edit and f'href="{DELETE}"' in edit

    page = Page(editor.get(UNPUBLISH).get_data(as_text=True)).text
    assert "Unpublish this module?" in page
    assert "The next bundle removes it from every school of Zedland." in page
    assert "publish it again at any time" in page
    # A form sent without the confirmation only shows the question again.
    response = post(editor, UNPUBLISH, {"version": "1"})
    assert (
        response.status_code == 200
        and "Unpublish this module?" in Page(response.data.decode()).text
    )
    assert server.state()[2] is True

    response = post(editor, UNPUBLISH, {"version": "1", "confirm": "1"})
    assert response.status_code == 303
    assert server.state()[:3:2] == (2, False)


def test_deleting_asks_first_keeps_the_history_and_schools_lose_it_with_the_next_bundle(server):
    give_signing_key(server.app)
    with server.app.app_context():
        assert build_country_bundle("zz").version == 1
        db.session.commit()
    editor = server.client("editor-zz")
    page = Page(editor.get(DELETE).get_data(as_text=True)).text
    assert "Delete this module?" in page
    assert "Its 2 lessons disappear from this server." in page
    assert "Its history of versions is kept." in page
    assert post(editor, DELETE, {"version": "1"}).status_code == 200
    assert _exists(server)

    # A stale form (the module changed since it was shown) deletes nothing.
    response = post(editor, DELETE, {"version": "7", "confirm": "1"})
    assert response.status_code == 400
    assert "Someone else changed this module" in Page(response.data.decode()).text
    assert _exists(server)

    response = post(editor, DELETE, {"version": "1", "confirm": "1"}, follow_redirects=True)
    assert (
        f"Module {UID} deleted (recorded as version 2 in its history)."
        in Page(response.data.decode()).text
    )
    assert not _exists(server)
    assert server.app.test_client().get(MODULE_PAGE).status_code == 404
    assert UID not in editor.get(LIST).get_data(as_text=True)
    with server.app.app_context():
        rows = curation.history_of(UID)
        assert [(r.version, r.origin, r.summary) for r in rows][0] == (2, "curation", "deleted")
        assert rows[0].changed_by.email == "editor-zz@example.org"
        delta = json.loads(build_country_bundle("zz", since=1).manifest)
    assert delta["tombstones"] == [UID]


def test_a_teacher_cannot_delete(server):
    teacher = server.client("teacher-zz")
    assert teacher.get(DELETE).status_code == 403
    assert post(teacher, DELETE, {"version": "1", "confirm": "1"}).status_code == 403
    assert _exists(server)


def test_the_module_commands_confirm_record_who_and_refuse_mistakes(server):
    runner = server.app.test_cli_runner()

    def run(*args, **kwargs):
        return runner.invoke(args=["module", *args], **kwargs)

    unknown = run("delete", "zz-nothing", "--by", "editor-zz@example.org", "--yes")
    assert unknown.exit_code == 1 and "There is no module zz-nothing" in unknown.output
    foreign = run("unpublish", UID, "--by", "editor-yy@example.org", "--yes")
    assert foreign.exit_code == 1 and "may not curate the modules of zz" in foreign.output
    teacher = run("unpublish", UID, "--by", "teacher-zz@example.org", "--yes")
    assert teacher.exit_code == 1
    declined = run("unpublish", UID, "--by", "editor-zz@example.org", input="n\n")
    assert declined.exit_code == 1 and "Nothing was changed." in declined.output
    assert server.state()[2] is True

    done = run("unpublish", UID, "--by", "editor-zz@example.org", input="y\n")
    assert done.exit_code == 0, done.output
    assert "removes it from every school of zz" in done.output
    assert f"Unpublished {UID} as version 2." in done.output
    again = run("publish", UID, "--by", "editor-zz@example.org")
    assert f"Published {UID} as version 3." in again.output
    deleted = run("delete", UID, "--by", "editor-zz@example.org", "--yes")
    assert f"Deleted {UID} (recorded as version 4 in its history)." in deleted.output
    assert not _exists(server)

    history = run("history", UID)
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert lines[0].startswith("v4 ") and "curation  editor-zz@example.org: deleted" in lines[0]
    assert lines[-1].startswith("v1 ") and " loaded " in lines[-1]

    # Loaded again, it continues from its last recorded version: schools take it as newer.
    back = server.app.test_cli_runner().invoke(args=["content", "load", str(server.content)])
    assert back.exit_code == 0, back.output
    assert server.state()[0] == 5
    with server.app.app_context():
        assert [row.origin for row in curation.history_of(UID)][:2] == ["files", "curation"]
