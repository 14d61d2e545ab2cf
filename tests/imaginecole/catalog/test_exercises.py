"""Pupils check their answers with no account and no cookie; corrections travel offline."""

from __future__ import annotations

import io
import zipfile

import pytest

LESSON = "/fr/modules/zz-sciences-eau/exercices"
SAME_SITE = {"Origin": "http://localhost"}


@pytest.fixture
def client(exercises_app):
    return exercises_app.test_client()


def post(client, number: int, data: dict, **headers):
    response = client.post(
        f"{LESSON}?exercise={number}", data=data, headers={**SAME_SITE, **headers}
    )
    assert "Set-Cookie" not in response.headers  # nothing about the pupil is kept
    return response


def feedback_of(response, number: int) -> str:
    html = response.get_data(as_text=True)
    start = html.index(f'id="exercise-{number}"')
    return html[start : html.index("</form>", start)]


def test_the_lesson_holds_no_answer_and_sets_no_cookie(client):
    response = client.get(LESSON)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert html.count('<form class="exercise"') == 5
    assert "4,5" not in html  # the expected number, its explanation …
    assert "condensation" not in html and "très froid" not in html  # … and the others'
    assert "exercises.js" in html


@pytest.mark.parametrize(
    ("number", "data", "status"),
    [
        (1, {"answer": "2"}, "right"),
        (1, {"answer": "1"}, "wrong"),
        (1, {}, "invalid"),
        (2, {"answer": ["1", "2"]}, "right"),
        (2, {"answer": ["1"]}, "wrong"),
        (3, {"answer": "4,5"}, "right"),
        (3, {"answer": "4.52 L"}, "right"),
        (3, {"answer": "4,6"}, "wrong"),
        (3, {"answer": "quatre"}, "invalid"),
        (3, {"answer": ""}, "invalid"),
        (4, {"answer": "PLUIE"}, "right"),
        (4, {"answer": "neige"}, "wrong"),
        (5, {"blank-1": "s'évapore", "blank-2": "Nuages"}, "right"),
        (5, {"blank-1": "s'évapore", "blank-2": "pluie"}, "wrong"),
    ],
)
def test_every_kind_is_checked_on_the_same_page(client, number, data, status):
    response = post(client, number, data)
    assert response.status_code == 200
    box = feedback_of(response, number)
    assert f'class="feedback feedback-{status}"' in box
    html = response.get_data(as_text=True)
    assert html.count('class="feedback') == 1  # the other exercises are untouched
    assert "<h1" in html  # the whole lesson page, not a bare answer


def test_a_right_answer_shows_the_explanation_a_wrong_one_the_hint(client):
    right = feedback_of(post(client, 3, {"answer": "4,5"}), 3)
    assert "4,8 − 0,3 = 4,5 litres" in right
    wrong = feedback_of(post(client, 3, {"answer": "4"}), 3)
    assert "4,8 − 0,3" not in wrong and '<details class="exercise-hint" open>' in wrong
    assert "Voir la correction" in wrong
    revealed = feedback_of(post(client, 3, {"answer": "4", "reveal": "1"}), 3)
    assert "4,5 L" in revealed and "4,8 − 0,3 = 4,5 litres" in revealed


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    "answer",
    ["x" * 1_000_000, '"><script>alert(1)</script>', "\x00\x07\x1b[2J\u202e", "9" * 250],
    ids=["1MB", "html", "control", "long"],
)
def test_hostile_answers_get_a_clear_message(client, number, answer):
    name = "blank-1" if number == 5 else "answer"
    response = post(client, number, {name: answer})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html and "\x00" not in html and "\u202e" not in html
    assert len(html) < 100_000  # a 1 MB answer is not sent back
    box = feedback_of(response, number)
    assert 'class="feedback feedback-' in box


def test_an_exercise_the_page_does_not_have_shows_the_lesson(client):
    for query in ("?exercise=99", "?exercise=0", "?exercise=abc", ""):
        response = client.post(LESSON + query, data={"answer": "1"}, headers=SAME_SITE)
        assert response.status_code == 200
        assert 'class="feedback' not in response.get_data(as_text=True)


def test_an_exercise_changed_since_the_page_was_read_is_asked_again(client):
    box = feedback_of(post(client, 4, {"answer": "pluie", "version": "older"}), 4)
    assert "a changé" in box and "feedback-right" not in box


def test_the_script_gets_the_same_feedback_alone(client):
    page = feedback_of(post(client, 4, {"answer": "Pluie"}), 4)
    fragment = post(client, 4, {"answer": "Pluie"}, **{"X-Exercise": "fragment"})
    text = fragment.get_data(as_text=True)
    assert text.startswith('<form class="exercise" id="exercise-4"') and text.endswith("</form>")
    assert page in text


def test_another_site_cannot_post(client):
    response = client.post(
        f"{LESSON}?exercise=1", data={"answer": "2"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


def test_the_offline_zip_has_each_correction_behind_a_details(client):
    response = client.get("/fr/modules/zz-sciences-eau/download.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    page = archive.read("zz-sciences-eau/09-exercices.html").decode()
    assert page.count('<details class="exercise-correction">') == 5
    assert page.count("Voir la correction") == 5
    assert "4,5 L" in page and "4,8 − 0,3 = 4,5 litres" in page
    assert "<form" not in page  # no server to answer it
    assert any(name.endswith(".vtt") for name in names)
    assert any(name.endswith(".ogg") for name in names)
    assert '<track kind="captions"' in page and 'preload="none"' in page


def test_the_printed_module_is_a_worksheet_with_its_answer_key(client):
    html = client.get("/fr/modules/zz-sciences-eau/print").get_data(as_text=True)
    lesson = html[html.index('id="exercise-1"') :]
    assert '<form class="exercise"' not in html and "<input" not in lesson  # answered on paper
    assert "____" in lesson
    key = lesson[lesson.index('<section class="answer-key">') :]
    assert "4,5 L" in key and "4,8 − 0,3 = 4,5 litres" in key
    assert "4,5 L" not in lesson[: lesson.index('<section class="answer-key">')]


def test_the_player_shows_the_size_and_a_download_link(client):
    html = client.get(LESSON).get_data(as_text=True)
    assert '<audio controls="" preload="none"' in html
    assert "Télécharger (OGG, 0,1 Mo)" in html
    assert '<track kind="captions"' in html and 'srclang="fr"' in html
