"""Every page type a pupil or teacher reads, on a 360 px phone, in French and in Arabic:
nothing overflows sideways and axe-core finds no WCAG 2.1 A/AA violation.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import expect

from tests.e2e.accessibility import audit, serve_axe

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 640}
MODULE = "/modules/zz-maths-fractions/"
READING_PAGES = {
    "home": "/",
    "country": "/zz/",
    "level": "/zz/cm1/",
    "subject": "/zz/cm1/mathematiques/",
    "module": MODULE,
    "lesson": MODULE + "lire-une-fraction",
    "lesson-with-more-formulas": MODULE + "comparer",
    "print": MODULE + "print",
    "search-results": "/search?q=fraction",
    "search-nothing-found": "/search?q=zzzzqqq",
}
LANGUAGES = ["fr", "ar"]


@pytest.fixture
def phone(browser, live_server):
    """A phone browser with scripts on, only so that axe-core can run."""
    context = browser.new_context(viewport=PHONE)
    serve_axe(context, live_server.url)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", READING_PAGES)
def test_reading_page_fits_a_phone_and_passes_axe(phone, live_server, name, lang):
    response = phone.goto(f"{live_server.url}/{lang}{READING_PAGES[name]}")
    assert response and response.status == 200
    audit(phone)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_offline_zip_pages_fit_a_phone_and_pass_axe(phone, live_server, lang, tmp_path):
    response = phone.request.get(f"{live_server.url}/{lang}{MODULE}download.zip")
    assert response.ok
    with zipfile.ZipFile(io.BytesIO(response.body())) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / "zz-maths-fractions"
    for page in ["index.html", *sorted(p.name for p in folder.glob("0*.html"))]:
        phone.goto((folder / page).as_uri())
        audit(phone)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_formula_wider_than_the_phone_scrolls_in_its_own_box(phone, live_server, lang):
    phone.goto(f"{live_server.url}/{lang}{MODULE}comparer")
    boxes = phone.locator("article.lesson .math")
    assert boxes.count() >= 4
    widths = boxes.evaluate_all(
        "boxes => boxes.map(b => [b.scrollWidth, b.clientWidth, getComputedStyle(b).direction])"
    )
    wide = [w for w in widths if w[0] > w[1] + 1]
    # The display formula does not fit 360 px: it scrolls alone, left to right even in an
    # Arabic page, and the page itself does not (the audit checks that).
    assert wide, widths
    assert all(direction == "ltr" for _, _, direction in widths)
    scrolled = phone.locator("article.lesson .math.block").first.evaluate(
        "box => { box.scrollLeft = 10000; return box.scrollLeft; }"
    )
    assert scrolled > 0
    # This Chromium lays MathML out: it shows the MathML, not the linear text.
    expect(phone.locator("article.lesson .math math").first).to_be_visible()
    expect(phone.locator("article.lesson .math-text").first).to_be_hidden()
    assert phone.locator("article.lesson mn", has_text="23,04").count() == 1


def test_on_a_phone_the_first_result_comes_before_the_facets(phone, live_server):
    phone.goto(f"{live_server.url}/fr/search?q=fraction")
    first = phone.locator("ol.results > li").first.bounding_box()
    facets = phone.locator("aside.facets").bounding_box()
    assert first and facets and first["y"] < facets["y"] < 2000

    phone.set_viewport_size({"width": 1280, "height": 800})
    first = phone.locator("ol.results > li").first.bounding_box()
    facets = phone.locator("aside.facets").bounding_box()
    # On a wide screen the facets are back in their column beside the results.
    assert first and facets and facets["x"] + facets["width"] <= first["x"]
    assert abs(facets["y"] - first["y"]) < 80
