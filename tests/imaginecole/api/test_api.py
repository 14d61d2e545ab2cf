"""The read-only JSON API: what each endpoint answers, its errors, caching, CORS, no cookie."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.extensions import db
from tests.conftest import load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as

FRACTIONS = "/api/v1/modules/zz-maths-fractions"


def get(client, url: str, status: int = 200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    return response.get_json()


def test_countries_with_their_framework_and_published_count(client):
    [zz] = get(client, "/api/v1/countries")["countries"]
    assert zz["code"] == "zz" and zz["name"]["ar"] == "زدلاند"
    assert zz["module_count"] == 3
    assert zz["framework"] == {
        "id": "zz-test",
        "version": "2024",
        "title": {"fr": "Programme d'essai", "en": "Test curriculum"},
    }
    assert get(client, "/api/v1/countries/zz") == zz


def test_a_curriculum_has_its_levels_subjects_and_competency_tree(client):
    data = get(client, "/api/v1/countries/zz/curriculum")
    assert [level["slug"] for level in data["levels"]] == ["cm1", "7e-annee"]
    assert data["levels"][0]["isced"] == 1 and data["levels"][0]["cycle"] == "primaire"
    assert {s["slug"] for s in data["subjects"]} == {"mathematiques", "sciences", "histoire"}
    by_code = {c["code"]: c for c in data["competencies"]}
    assert by_code["ZZ-MATH-1-1"]["parent"] == "ZZ-MATH-1"
    assert by_code["ZZ-MATH-1-1"]["uri"] == "urn:imaginecole:zz:zz-test:ZZ-MATH-1-1"
    assert by_code["ZZ-MATH-1"]["parent"] is None


def test_modules_are_paged_and_filtered(client):
    first = get(client, "/api/v1/modules?per_page=2")
    assert (first["total"], first["pages"], len(first["modules"])) == (3, 2, 2)
    second = get(client, "/api/v1/modules?per_page=2&page=2")
    ids = [m["id"] for m in first["modules"] + second["modules"]]
    assert ids == ["zz-histoire-royaume", "zz-maths-fractions", "zz-sciences-eau"]
    cm1 = get(client, "/api/v1/modules?country=zz&level=cm1")
    assert [m["id"] for m in cm1["modules"]] == ["zz-maths-fractions", "zz-sciences-eau"]
    maths = get(client, "/api/v1/modules?country=zz&subject=mathematiques&type=lesson")
    assert [m["id"] for m in maths["modules"]] == ["zz-maths-fractions"]
    assert get(client, "/api/v1/modules?country=yy")["modules"] == []


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=x", "per_page=101", "per_page=0", "level=cm1", "country=zzz"],
)
def test_a_wrong_parameter_is_a_400_that_says_why(client, query):
    error = get(client, f"/api/v1/modules?{query}", 400, **{"Accept-Language": "en"})["error"]
    assert error["status"] == 400 and error["message"]


def test_error_messages_follow_accept_language(client):
    messages = {
        lang: get(client, "/api/v1/modules/nope", 404, **{"Accept-Language": lang})["error"][
            "message"
        ]
        for lang in ("fr", "en", "ar")
    }
    assert messages["en"] == "No published module has the id nope."
    assert len(set(messages.values())) == 3
    assert get(client, "/api/v1/nowhere/", 404)["error"]["status"] == 404
    assert get(client, "/api/v1/countries/yy", 404)["error"]["status"] == 404


def test_a_module_has_its_licence_authors_lessons_and_media(client):
    data = get(client, FRACTIONS)
    assert data["licence"]["id"] == "CC-BY-SA-4.0"
    assert data["licence"]["url"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert set(data["licence"]["name"]) == {"fr", "en", "ar"}
    assert data["authors"] == [{"name": "Awa Diallo", "role": "author"}]
    assert [lesson["slug"] for lesson in data["lessons"]] == ["lire-une-fraction", "comparer"]
    assert data["lessons"][0]["title"]["en"] == "Reading a fraction"
    [image] = data["media"]
    assert image["media_type"].startswith("image/") and image["size"] > 0
    assert client.get(image["url"].removeprefix("http://localhost")).status_code == 200
    relations = {(c["code"], c["relation"]) for c in data["competencies"]}
    assert ("ZZ-MATH-1-1", "teaches") in relations


def test_a_lesson_in_the_language_asked_or_its_own(client):
    arabic = get(client, f"{FRACTIONS}/lessons/comparer?lang=ar")
    assert arabic["language"] == "ar" and "<math" in arabic["html"]
    history = get(client, "/api/v1/modules/zz-histoire-royaume/lessons/grandes-dates?lang=en")
    assert history["language"] == "fr"  # not translated: shown in the module's language
    assert "<script>" not in history["html"]
    get(client, f"{FRACTIONS}/lessons/comparer?lang=de", 400)
    get(client, f"{FRACTIONS}/lessons/nothing", 404)


def test_search_results_carry_licence_and_authors_and_more_per_page(client):
    data = get(client, "/api/v1/search?q=fraction&per_page=20")
    assert data["per_page"] == 20 and data["results"]
    for hit in data["results"]:
        assert hit["licence"]["url"].startswith("https://")
        assert hit["authors"]
    assert get(client, "/api/v1/search?q=fraction&page=0")["page"] == 1  # clamped, as always


def test_an_unchanged_answer_is_a_304_with_its_etag(client):
    first = client.get(FRACTIONS)
    etag = first.headers["ETag"]
    again = client.get(FRACTIONS, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/api/v1/modules/zz-sciences-eau", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_any_site_may_read_it_and_ask_first(client):
    response = client.get("/api/v1/countries", headers={"Origin": "https://portal.example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        FRACTIONS,
        headers={
            "Origin": "https://portal.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]
    assert client.post("/api/v1/countries").status_code in (403, 405)


def test_no_cookie_even_for_a_signed_in_editor(tmp_path):
    app = make_app(tmp_path / "data")
    load_content(app)
    add_accounts(app, [("editor-zz", "editor", "zz"), ("teacher-zz", "teacher", "zz")])
    editor = client_as(app, "editor-zz")
    anonymous = app.test_client()
    for url in ("/api/v1/countries", FRACTIONS, "/api/v1/search?q=eau", "/api/v1/openapi.json"):
        signed = editor.get(url)
        assert "Set-Cookie" not in signed.headers, url
        assert "Set-Cookie" not in anonymous.get(url).headers, url
        assert signed.data == anonymous.get(url).data
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        module.published = False
        db.session.commit()
    assert editor.get(FRACTIONS).status_code == 404  # an editor sees no more than anyone


def test_the_openapi_document_is_served_and_is_openapi_3_1(client):
    document = get(client, "/api/v1/openapi.json")
    assert document["openapi"] == "3.1.0"
    assert "/modules/{id}" in document["paths"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/modules?country=z%00",
        "/api/v1/modules/zz%00maths",
        "/api/v1/countries/z%00",
        "/api/v1/countries/zz/case?lang=fr&x=%00",
        "/api/v1/search?q=fraction%00",
    ],
)
def test_a_nul_character_is_a_400_not_a_server_error(client, url):
    error = get(client, url, 400, **{"Accept-Language": "en"})["error"]
    assert error["message"] == "A parameter contains a NUL character."
