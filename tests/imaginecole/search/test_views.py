"""The search page and the JSON API on the zz test content, and keeping the index in step."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from imaginecole.search import search_index
from imaginecole.search.indexing import sync_index
from tests.conftest import load_content, make_app

LESSON_URL = "/fr/modules/zz-maths-fractions/lire-une-fraction"
MODULE_URL = "/fr/modules/zz-maths-fractions/"


# ---------------------------------------------------------------------------- reading pages


class Page(HTMLParser):
    """The parts of a page these tests look at: links (and where they are), forms and inputs."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.links: list[dict] = []
        self.forms: list[dict] = []
        self.tags: list[tuple[str, dict]] = []
        self._open: list[tuple[str, dict]] = []
        self._link: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        classes = [a.get("class", "") for t, a in self._open]
        if tag == "a":
            self._link = {
                "href": attributes.get("href", ""),
                "rel": attributes.get("rel", ""),
                "lang": attributes.get("lang", ""),
                "text": "",
                "inside": " ".join(c for c in classes if c)
                + " "
                + " ".join(t for t, _ in self._open),
            }
            self.links.append(self._link)
        elif tag == "form":
            self.forms.append({**attributes, "inputs": []})
        elif tag in ("input", "button") and self.forms:
            self.forms[-1]["inputs"].append(attributes)
        if tag not in ("input", "img", "br", "meta", "link", "hr"):
            self._open.append((tag, attributes))

    def handle_endtag(self, tag):
        if tag == "a":
            self._link = None
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position][0] == tag:
                del self._open[position:]
                break

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data

    def links_in(self, css_class: str) -> list[dict]:
        return [link for link in self.links if css_class in link["inside"].split()]

    def search_forms(self) -> list[dict]:
        return [form for form in self.forms if form.get("role") == "search"]


def get_page(client, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def api(client, **params) -> dict:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# ---------------------------------------------------------------------------- the page


@pytest.mark.parametrize(
    "lang, text",
    [("fr", "fractions"), ("en", "fractions"), ("ar", "الكسور"), ("fr", "évaporation")],
)
def test_search_page_in_every_language(client, lang, text):
    page = get_page(client, f"/{lang}/search?q={text}")
    results = page.links_in("results")
    assert results, page.html
    assert all(link["href"].startswith(f"/{lang}/modules/") for link in results)
    assert f'lang="{lang}"' in page.html
    if lang == "ar":
        assert 'dir="rtl"' in page.html


def test_results_link_to_lessons_and_modules(client):
    page = get_page(client, "/fr/search?q=fractions")
    hrefs = [link["href"] for link in page.links_in("results")]
    assert LESSON_URL in hrefs
    assert MODULE_URL in hrefs
    assert "/fr/modules/zz-maths-fractions/comparer" in hrefs
    for href in set(hrefs):
        assert client.get(href).status_code == 200, href


def test_result_lines_show_snippet_country_level_and_subject(client):
    page = get_page(client, "/fr/search?q=évaporation")
    assert "<mark>" in page.html
    assert "Zedland" in page.html
    assert "CM1" in page.html
    assert "Sciences d&#39;observation" in page.html or "Sciences d'observation" in page.html


def test_raw_html_in_a_lesson_never_reaches_the_results(client):
    page = get_page(client, "/fr/search?q=royaume")
    assert page.links_in("results")
    assert "<script" not in page.html.lower()
    assert all(tag != "script" for tag, _ in page.tags)


def test_facets_are_plain_links(client):
    page = get_page(client, "/fr/search?q=fractions")
    facets = page.links_in("facets")
    assert facets
    by_param = {}
    for link in facets:
        assert link["href"].startswith("/fr/search?")
        params = query_of(link["href"])
        assert params["q"] == ["fractions"]
        for name in ("country", "level", "subject", "language", "type"):
            if name in params:
                by_param.setdefault(name, set()).update(params[name])
    assert by_param == {
        "country": {"zz"},
        "level": {"zz:cm1"},
        "subject": {"mathematiques"},
        "language": {"fr", "en", "ar"},
        "type": {"lesson"},
    }
    assert not any(tag == "script" or "onclick" in attrs for tag, attrs in page.tags)


@pytest.mark.parametrize("page_cache_mb", [0, 64])
def test_result_lines_and_facets_show_names_as_renamed(tmp_path, page_cache_mb):
    """Names are kept per content state: a renamed subject, country or class shows at once."""
    from sqlalchemy import select

    from imaginecole.curriculum.models import Country, Level, Subject
    from imaginecole.extensions import db

    app = make_app(tmp_path / "data", PAGE_CACHE_MB=page_cache_mb)
    load_content(app)
    client = app.test_client()
    before = get_page(client, "/fr/search?q=évaporation").html
    assert "Zedland" in before
    assert "CM1 (ZZ)" in before
    with app.app_context():
        subject = db.session.scalar(select(Subject).where(Subject.slug == "sciences"))
        subject.name = {**subject.name, "fr": "Sciences de la nature"}
        country = db.session.get(Country, "zz")
        country.name = {**country.name, "fr": "Zédie"}
        level = db.session.scalar(select(Level).where(Level.slug == "cm1"))
        level.code = "CM-1"
        db.session.commit()
    after = get_page(client, "/fr/search?q=évaporation")
    assert "Sciences de la nature" in after.html
    assert "Zédie" in after.html and "Zedland" not in after.html
    assert "CM-1 (ZZ)" in after.html and "CM1 (ZZ)" not in after.html
    facet_names = {link["text"].strip() for link in after.links_in("facets")}
    assert {"Sciences de la nature", "Zédie", "CM-1 (ZZ)"} <= facet_names
    # Each language has its own names, from the same content state.
    english = get_page(client, "/en/search?q=evaporation").html
    assert "Science" in english and "Sciences de la nature" not in english


def test_facet_link_narrows_the_results(client):
    page = get_page(client, "/fr/search?q=fractions")
    english = next(link for link in page.links_in("facets") if "language=en" in link["href"])
    narrowed = get_page(client, english["href"])
    assert {link["lang"] for link in page.links_in("results")} == {"fr", "en", "ar"}
    assert [link["lang"] for link in narrowed.links_in("results")] == ["en", "en", "en"]


def test_active_filter_has_a_remove_link(client):
    page = get_page(client, "/fr/search?q=eau&subject=sciences&level=zz:cm1")
    facets = page.links_in("facets")
    removers = [link for link in facets if "subject" not in query_of(link["href"])]
    assert any(query_of(link["href"]) == {"q": ["eau"], "level": ["zz:cm1"]} for link in removers)
    assert not any(query_of(link["href"]).get("subject") == ["histoire"] for link in facets), (
        "other subjects are not offered while one is chosen"
    )
    # The chosen filters travel with the next search from the page's own form.
    form = next(f for f in page.search_forms() if f.get("class") == "search-page")
    hidden = {i["name"]: i["value"] for i in form["inputs"] if i.get("type") == "hidden"}
    assert hidden == {"subject": "sciences", "level": "zz:cm1"}


def test_did_you_mean_link(client):
    page = get_page(client, "/fr/search?q=royaumes")
    suggestions = [link for link in page.links if query_of(link["href"]).get("q") == ["royaume"]]
    assert suggestions, page.html
    assert suggestions[0]["href"].startswith("/fr/search?")
    assert suggestions[0]["text"].strip() == "royaume"


def test_no_result_shows_the_corrected_search(client):
    page = get_page(client, "/fr/search?q=fracsions")
    assert "fractions" in page.html
    assert page.links_in("results")
    assert api(client, q="fracsions")["corrected"] is True


def test_paging_links(client):
    first = get_page(client, "/fr/search?country=zz")
    total = api(client, country="zz")["total"]
    assert total > 10, "the zz content fills more than one page"
    nexts = [link for link in first.links if link["rel"] == "next"]
    assert len(nexts) == 1 and not [link for link in first.links if link["rel"] == "prev"]
    assert query_of(nexts[0]["href"]) == {"country": ["zz"], "page": ["2"]}
    second = get_page(client, nexts[0]["href"])
    previous = [link for link in second.links if link["rel"] == "prev"]
    assert len(previous) == 1 and query_of(previous[0]["href"]) == {"country": ["zz"]}
    assert not [link for link in second.links if link["rel"] == "next"]
    shown = len(first.links_in("results")) + len(second.links_in("results"))
    assert shown == total
    on_first = {(link["href"], link["lang"]) for link in first.links_in("results")}
    on_second = {(link["href"], link["lang"]) for link in second.links_in("results")}
    assert on_first and on_second and not on_first & on_second


def test_empty_query_shows_the_form_only(client):
    for url in ("/fr/search", "/fr/search?q=", "/fr/search?q=+++"):
        page = get_page(client, url)
        assert any(f.get("class") == "search-page" for f in page.search_forms())
        assert not page.links_in("results")
        assert not page.links_in("facets")
        assert 'class="results"' not in page.html


@pytest.mark.parametrize(
    "q",
    ["*", ":", "[", "]", "NOT NOT", '"unbalanced', "x" * 10_000, "le de la", "😀", "%00", "\x00"],
)
def test_bad_queries_give_a_page(client, q):
    response = client.get("/fr/search", query_string={"q": q})
    assert response.status_code == 200
    if "\x00" in q:  # the API names the problem rather than searching for something else
        answer = client.get("/api/v1/search", query_string={"q": q})
        assert answer.status_code == 400 and "NUL" in answer.get_json()["error"]["message"]
    else:
        assert api(client, q=q)["total"] >= 0


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "-4"},
        {"page": "99999999999"},
        {"country": "zzz"},
        {"level": "x" * 500},
    ],
)
def test_bad_parameters_give_a_page(client, params):
    assert client.get("/fr/search", query_string={"q": "fractions", **params}).status_code == 200
    assert api(client, q="fractions", **params)["total"] >= 0


def test_results_in_the_reader_language_come_first(client):
    for lang in ("fr", "en"):
        page = get_page(client, f"/{lang}/search?q=fractions")
        shown = [(link["lang"], link["text"]) for link in page.links_in("results")]
        assert shown[0][0] == lang, shown


# ---------------------------------------------------------------------------- the JSON API


def test_api_shape(client):
    data = api(client, q="eau")
    assert set(data) == {
        "query",
        "total",
        "page",
        "per_page",
        "pages",
        "suggestion",
        "corrected",
        "partial",
        "facets",
        "results",
    }
    assert data["query"] == "eau"
    # zz-sciences-eau has one lesson: the lesson stands for the module, one result.
    assert data["total"] == len(data["results"]) == 1
    assert (data["page"], data["pages"], data["suggestion"], data["corrected"]) == (
        1,
        1,
        None,
        False,
    )
    for values in data["facets"].values():
        assert all(set(value) == {"value", "count"} for value in values)
    assert {v["value"]: v["count"] for v in data["facets"]["levels"]} == {
        "zz:cm1": 1,
        "zz:7e-annee": 1,
    }
    lesson = next(r for r in data["results"] if r["kind"] == "lesson")
    assert lesson == {
        "kind": "lesson",
        "module": "zz-sciences-eau",
        "lesson": "evaporation",
        "language": "fr",
        "title": "L'évaporation de l'eau",
        "module_title": "Le cycle de l'eau",
        "snippet_html": lesson["snippet_html"],
        "country": "zz",
        "levels": ["zz:cm1", "zz:7e-annee"],
        "subject": "sciences",
        "resource_type": "activity",
        "licence": {
            "id": "CC-BY-4.0",
            "name": lesson["licence"]["name"],
            "url": "https://creativecommons.org/licenses/by/4.0/",
        },
        "authors": [{"name": "Équipe d'essai", "role": "author"}],
    }
    assert lesson["licence"]["name"]["en"] == "Creative Commons Attribution 4.0"
    assert "<mark>" in lesson["snippet_html"]
    # A module of several lessons has a result of its own.
    module = next(r for r in api(client, q="fractions")["results"] if r["kind"] == "module")
    assert module["module"] == "zz-maths-fractions" and module["lesson"] is None


def test_api_filters_paging_and_suggestion(client):
    everything = api(client, country="zz")
    assert everything["total"] > 10 and everything["pages"] == 2
    second = api(client, country="zz", page=2)
    assert second["total"] == everything["total"]
    first_ids = {(r["module"], r["lesson"], r["language"]) for r in everything["results"]}
    second_ids = {(r["module"], r["lesson"], r["language"]) for r in second["results"]}
    assert not first_ids & second_ids
    assert api(client, q="royaumes")["suggestion"] == "royaume"
    assert api(client, q="eau", subject="histoire")["total"] == 0
    assert api(client, q="fractions", type="lesson", level="zz:cm1")["total"] == 7


def test_api_empty_query(client):
    data = api(client, q="")
    assert data["total"] == 0 and data["results"] == []


# ---------------------------------------------------------------------------- the search form


CATALOGUE_PAGES = [
    "/{lang}/",
    "/{lang}/zz/",
    "/{lang}/zz/cm1/",
    "/{lang}/zz/cm1/mathematiques/",
    "/{lang}/modules/zz-maths-fractions/",
    "/{lang}/modules/zz-maths-fractions/lire-une-fraction",
]


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
@pytest.mark.parametrize("url", CATALOGUE_PAGES)
def test_search_form_is_on_every_catalogue_page(client, url, lang):
    page = get_page(client, url.format(lang=lang))
    forms = [f for f in page.search_forms() if f.get("action") == f"/{lang}/search"]
    assert len(forms) == 1
    assert forms[0].get("method", "get").lower() == "get"
    assert any(i.get("name") == "q" for i in forms[0]["inputs"])


def scope_boxes(page: Page) -> dict[str, str]:
    form = next(f for f in page.search_forms() if f.get("class") == "search")
    return {
        i["name"]: i["value"]
        for i in form["inputs"]
        if i.get("type") == "checkbox" and "checked" in i
    }


def test_country_page_offers_a_checked_scope_box(client):
    assert scope_boxes(get_page(client, "/fr/zz/")) == {"country": "zz"}
    assert "Zedland" in get_page(client, "/fr/zz/").html


def test_level_page_offers_country_and_level_scope_boxes(client):
    assert scope_boxes(get_page(client, "/fr/zz/cm1/")) == {"country": "zz", "level": "zz:cm1"}


def test_home_page_has_no_scope_box(client):
    assert scope_boxes(get_page(client, "/fr/")) == {}


def test_scoped_search_from_a_level_page(client):
    scoped = api(client, q="eau", country="zz", level="zz:7e-annee")
    assert scoped["total"] == 1
    assert api(client, q="fractions", country="zz", level="zz:7e-annee")["total"] == 0


# ---------------------------------------------------------------------------- keeping the index in step


def ranked(client, q: str) -> list[tuple]:
    return [(r["module"], r["lesson"], r["language"]) for r in api(client, q=q)["results"]]


QUERIES = ["fractions", "eau", "royaume", "partage", "évaporation", "الكسور"]


def test_sync_index_rebuilds_a_deleted_index(app):
    if app.config["SEARCH_ENGINE"] != "whoosh":
        pytest.skip("an index folder is Whoosh's: PostgreSQL's search is rows of the database")
    load_content(app)
    client = app.test_client()
    before = {q: ranked(client, q) for q in QUERIES}
    with app.app_context():
        index_dir = search_index().directory
    shutil.rmtree(index_dir)
    with app.app_context():
        report = sync_index()
    assert report.rebuilt and report.updated == 3
    assert {q: ranked(client, q) for q in QUERIES} == before


def test_sync_index_at_start_rebuilds_a_deleted_index(app, tmp_path):
    if app.config["SEARCH_ENGINE"] != "whoosh":
        pytest.skip("an index folder is Whoosh's: PostgreSQL's search is rows of the database")
    load_content(app)
    before = {q: ranked(app.test_client(), q) for q in QUERIES}
    shutil.rmtree(Path(app.config["DATA_DIR"]) / "search")
    restarted = make_app(Path(app.config["DATA_DIR"]))  # a server starting after the deletion
    with restarted.app_context():
        assert sync_index().rebuilt
    assert {q: ranked(restarted.test_client(), q) for q in QUERIES} == before


def test_sync_index_repairs_a_damaged_index(app):
    if app.config["SEARCH_ENGINE"] != "whoosh":
        pytest.skip("an index folder is Whoosh's: PostgreSQL's search is rows of the database")
    load_content(app)
    with app.app_context():
        index = search_index()
        index_dir = index.directory
        index.close()
    for toc in index_dir.glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbled")
    restarted = make_app(Path(app.config["DATA_DIR"]))
    with restarted.app_context():
        assert sync_index().rebuilt
    assert api(restarted.test_client(), q="royaume")["total"] == 1


def test_sync_index_does_nothing_when_nothing_changed(app):
    load_content(app)
    with app.app_context():
        report = sync_index()
    assert (report.updated, report.removed, report.rebuilt) == (0, 0, False)


def test_loading_a_changed_module_updates_the_results(app, content_copy):
    load_content(app, content_copy)
    client = app.test_client()
    assert api(client, q="baobab")["total"] == 0
    lesson = content_copy / "zz" / "modules" / "zz-sciences-eau" / "01-evaporation.md"
    lesson.write_text(
        lesson.read_text(encoding="utf-8").replace("au soleil de midi", "à l'ombre du baobab"),
        encoding="utf-8",
    )
    toml = content_copy / "zz" / "modules" / "zz-sciences-eau" / "module.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("version = 1", "version = 2"), "utf-8")
    report = load_content(app, content_copy)
    assert report.modules_updated == 1, report
    data = api(client, q="baobab")
    assert [(r["module"], r["lesson"]) for r in data["results"]] == [
        ("zz-sciences-eau", "evaporation")
    ]
    assert "<mark>baobab</mark>" in data["results"][0]["snippet_html"]
    assert api(client, q="midi")["total"] == 0, "the old text is gone from the index"


def test_removing_a_module_from_the_database_removes_it_from_the_results(app):
    from imaginecole.content.models import Module
    from imaginecole.extensions import db

    load_content(app)
    client = app.test_client()
    assert api(client, q="royaume")["total"] == 1
    with app.app_context():
        module = db.session.scalar(db.select(Module).filter_by(uid="zz-histoire-royaume"))
        module.published = False
        db.session.commit()
        report = sync_index()
    # Whoosh's index follows after the commit; PostgreSQL's search rows went with the commit.
    assert report.removed == (1 if app.config["SEARCH_ENGINE"] == "whoosh" else 0)
    assert api(client, q="royaume")["total"] == 0


def test_questions_are_found_but_not_their_answers(exercises_app):
    client = exercises_app.test_client()
    question = get_page(client, "/fr/search?q=flaque")
    hrefs = [link["href"] for link in question.links_in("results")]
    assert "/fr/modules/zz-sciences-eau/exercices" in hrefs
    # "condensation" is only in an explanation, shown after answering: never in the index.
    assert api(client, q="condensation")["total"] == 0
    # Nor are the forms' words ("Vérifier", "Ta réponse") what a lesson is found by.
    assert api(client, q="vérifier")["total"] == 0
