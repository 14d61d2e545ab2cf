"""Every page type a pupil or teacher reads, on a 360 px phone, in French and in Arabic:
nothing overflows sideways and axe-core finds no WCAG 2.1 A/AA violation.
"""

from __future__ import annotations

import io
import zipfile

import pytest

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
