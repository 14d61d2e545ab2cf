"""A pupil answers exercises in a real Chromium: with JavaScript off, then on; nothing is kept."""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_CONTENT, add_exercise_lesson, load_content, make_app
from tests.e2e.test_browser import TIMEOUT_MS, Reader
from tests.live_server import start_server, stop_server

pytestmark = pytest.mark.browser

LESSON = "/fr/modules/zz-sciences-eau/exercices"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The real server over the zz test content with the exercise lesson."""
    content = tmp_path_factory.mktemp("e2e-exercises") / "content"
    shutil.copytree(TEST_CONTENT, content)
    add_exercise_lesson(content)
    data_dir = tmp_path_factory.mktemp("e2e-exercises-data")
    app = make_app(data_dir)
    assert not load_content(app, content).problems
    with app.app_context():
        from imaginecole.extensions import db

        db.engine.dispose()  # the server process opens the database on its own
    server = start_server(data_dir, tmp_path_factory.mktemp("e2e-exercises-log") / "server.log")
    yield server
    stop_server(server)


@pytest.fixture
def reader(browser, live_server):
    person = Reader(browser, live_server)
    yield person
    person.close()


def exercise(page, number: int):
    return page.locator(f"#exercise-{number}")


def test_a_pupil_checks_answers_with_javascript_off(reader):
    page = reader.open(LESSON)
    expect(page.get_by_role("heading", level=1)).to_have_text("Exercices sur l'eau")
    assert "4,5" not in page.content()  # no answer in the page before answering

    first = exercise(page, 1)
    first.get_by_label("Elle s'évapore et devient de la vapeur d'eau.").check()
    first.get_by_role("button", name="Vérifier").click()
    expect(page).to_have_url(re.compile(re.escape(LESSON) + r"\?exercise=1#exercise-1$"))
    first = exercise(page, 1)
    expect(first.locator(".feedback")).to_contain_text("Juste !")
    expect(first.get_by_text("transforme l'eau liquide en vapeur")).to_be_visible()
    expect(first.get_by_label("Elle s'évapore et devient de la vapeur d'eau.")).to_be_checked()

    third = exercise(page, 3)
    third.get_by_label("Ta réponse").fill("4,2")
    third.get_by_role("button", name="Vérifier").click()
    third = exercise(page, 3)
    expect(third.locator(".feedback")).to_contain_text("Pas encore")
    expect(third.get_by_text("Fais une soustraction.")).to_be_visible()  # the hint, opened
    expect(third.get_by_text("4,8 − 0,3 = 4,5 litres.")).to_have_count(0)
    third.get_by_role("button", name="Voir la correction").click()
    expect(exercise(page, 3).locator(".feedback")).to_contain_text("4,5 L")

    fifth = exercise(page, 5)
    fifth.get_by_label("Trou 1").fill("<b>s'évapore</b>\u0007")
    fifth.get_by_role("button", name="Vérifier").click()
    expect(exercise(page, 5).locator(".feedback")).to_contain_text("Pas encore : 0 sur 2")
    expect(exercise(page, 5).get_by_label("Trou 1")).to_have_value("<b>s'évapore</b>")

    # The player waits for the pupil: no sound was downloaded.
    expect(page.locator("audio")).to_have_attribute("preload", "none")
    assert not [url for url in reader.requests if urlsplit(url).path.endswith(".ogg")]
    reader.assert_private()


def test_the_script_checks_in_place_with_the_same_result(browser, live_server):
    context = browser.new_context(java_script_enabled=True, locale="fr-SN")
    context.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    try:
        page.goto(live_server.url + LESSON)
        third = exercise(page, 3)
        third.get_by_label("Ta réponse").fill("4.5 L")
        third.get_by_role("button", name="Vérifier").click()
        expect(exercise(page, 3).locator(".feedback")).to_contain_text("Juste !")
        expect(page).to_have_url(live_server.url + LESSON)  # no page load
        expect(exercise(page, 3).get_by_text("4,8 − 0,3 = 4,5 litres.")).to_be_visible()

        second = exercise(page, 2)
        second.get_by_label("l'évaporation").check()
        second.get_by_role("button", name="Vérifier").click()
        expect(exercise(page, 2).locator(".feedback")).to_contain_text("Pas encore : 2 sur 3")
        assert all(urlsplit(url).hostname == "127.0.0.1" for url in requests), requests
        assert context.cookies() == []
    finally:
        context.close()
