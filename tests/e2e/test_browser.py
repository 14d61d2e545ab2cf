"""A reader on a cheap phone with JavaScript off, in a real Chromium, against the real server.

Every test walks by visible link text, as a person would, and checks what the reader sees.
Each one also checks that no request left 127.0.0.1 and that no cookie was set.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 640}
MODULE = "/modules/zz-maths-fractions/"
LESSON = MODULE + "lire-une-fraction"
TIMEOUT_MS = 10_000


class Reader:
    """A browser context with JavaScript disabled that records every request it makes."""

    def __init__(self, browser, server, locale: str = "wo-SN"):
        self.server = server
        # Wolof (Senegal): a real reader's language that the app has no interface for.
        self.context = browser.new_context(
            java_script_enabled=False, viewport=PHONE, locale=locale, accept_downloads=True
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.requests: list[str] = []
        self.media_statuses: dict[str, int] = {}
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on("response", self._on_response)
        self.page: Page = self.context.new_page()

    def _on_response(self, response) -> None:
        path = urlsplit(response.url).path
        if path.startswith("/media/") or response.url.startswith("file:"):
            self.media_statuses[response.url] = response.status

    def open(self, path: str) -> Page:
        self.page.goto(self.server.url + path)
        return self.page

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def assert_private(self) -> None:
        """Nothing left the machine, and nothing was stored about the reader."""
        assert self.requests, "no request was recorded"
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme == "file":
                assert parts.hostname in (None, ""), url
            else:
                assert parts.scheme == "http" and parts.hostname == "127.0.0.1", url
        assert self.context.cookies() == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def reader(browser, live_server):
    person = Reader(browser, live_server)
    yield person
    person.close()


def expect_image_loaded(page: Page, selector: str = "article img") -> None:
    image = page.locator(selector).first
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0, "the image did not load"


def header_boxes(page: Page) -> tuple[dict, dict]:
    brand = page.locator("header.site .brand").bounding_box()
    languages = page.locator("header.site nav.languages").bounding_box()
    assert brand and languages
    return brand, languages


def centre(box: dict) -> float:
    return box["x"] + box["width"] / 2


def test_reader_walks_from_home_to_a_lesson_without_javascript(reader, screenshots_dir):
    page = reader.open("/")
    assert reader.path() == "/fr/", "French is the default language"
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    page.get_by_role("link", name="Zedland").click()
    expect(page).to_have_url(re.compile(r"/fr/zz/$"))
    page.get_by_role("link", name=re.compile(r"^CM1\b")).click()
    expect(page).to_have_url(re.compile(r"/fr/zz/cm1/$"))
    page.get_by_role("link", name="Mathématiques").click()
    expect(page).to_have_url(re.compile(r"/fr/zz/cm1/mathematiques/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mathématiques")
    page.get_by_role("link", name="Les fractions").click()
    expect(page).to_have_url(re.compile(re.escape("/fr" + MODULE) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Les fractions")
    page.get_by_role("link", name="Lire une fraction").click()
    expect(page).to_have_url(re.compile(re.escape("/fr" + LESSON) + "$"))

    # What the reader sees on the lesson.
    expect(page.get_by_role("heading", level=1)).to_have_text("Lire une fraction")
    expect(page.locator("article.lesson math").first).to_be_visible()
    expect(page.locator("article.lesson math[display=block]")).to_be_visible()
    expect_image_loaded(page)
    expect(page.get_by_role("img", name="Un disque partagé en quatre parts égales")).to_be_visible()
    served = [url for url, status in reader.media_statuses.items() if "/media/" in url]
    assert served, "no lesson image was requested"
    assert all(reader.media_statuses[url] in (200, 304) for url in served), reader.media_statuses
    expect(page.get_by_text("À retenir")).to_be_visible()

    # The correction stays hidden until the reader asks for it, with no script.
    correction = page.locator("details", has=page.locator("summary", has_text="Correction"))
    expect(correction).not_to_have_attribute("open", re.compile(".*"))
    expect(correction.get_by_text("La réponse est")).to_be_hidden()
    correction.locator("summary").click()
    expect(correction).to_have_attribute("open", "")
    expect(correction.get_by_text("La réponse est")).to_be_visible()
    page.screenshot(path=screenshots_dir / "lesson-fr.png", full_page=True)

    # "Next" leads to the following lesson, the breadcrumb leads back.
    pager = page.locator("nav.pager")
    expect(pager.get_by_role("link", name=re.compile("Précédente"))).to_have_count(0)
    pager.get_by_role("link", name=re.compile(r"Suivante\s+Comparer des fractions")).click()
    expect(page).to_have_url(re.compile(re.escape("/fr" + MODULE) + "comparer$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Comparer des fractions")
    last_pager = page.locator("nav.pager")
    expect(last_pager.get_by_role("link", name=re.compile("Suivante"))).to_have_count(0)
    breadcrumb = page.locator("nav.breadcrumb")
    expect(breadcrumb.locator("[aria-current=page]")).to_have_text("Comparer des fractions")
    breadcrumb.get_by_role("link", name="Les fractions").click()
    expect(page).to_have_url(re.compile(re.escape("/fr" + MODULE) + "$"))
    page.locator("nav.breadcrumb").get_by_role("link", name="Zedland").click()
    expect(page).to_have_url(re.compile(r"/fr/zz/$"))
    page.locator("nav.breadcrumb").get_by_role("link", name="Accueil").click()
    expect(page).to_have_url(re.compile(r"/fr/$"))

    reader.assert_private()


def test_arabic_pages_are_right_to_left_and_mirrored(reader, screenshots_dir):
    page = reader.open("/ar/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.get_by_role("link", name="زدلاند")).to_be_visible()

    page = reader.open("/ar" + LESSON)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("قراءة كسر")
    expect(page.locator("article.lesson math").first).to_be_visible()
    expect(page.locator("nav.pager").get_by_role("link", name=re.compile("التالي"))).to_be_visible()
    ar_brand, ar_languages = header_boxes(page)
    page.screenshot(path=screenshots_dir / "lesson-ar.png", full_page=True)

    page = reader.open("/fr" + LESSON)
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    fr_brand, fr_languages = header_boxes(page)

    # Left to right the brand comes first, on the left; right to left it is on the right.
    assert centre(fr_brand) < centre(fr_languages), (fr_brand, fr_languages)
    assert centre(ar_brand) > centre(ar_languages), (ar_brand, ar_languages)
    # And the header is a mirror image of the French one.
    width = PHONE["width"]
    for fr_box, ar_box in ((fr_brand, ar_brand), (fr_languages, ar_languages)):
        mirrored_x = width - fr_box["x"] - fr_box["width"]
        assert abs(ar_box["x"] - mirrored_x) < 3, (fr_box, ar_box)

    reader.assert_private()


def test_language_links_keep_the_same_page(reader):
    page = reader.open("/fr" + LESSON)
    languages = page.get_by_role("navigation", name="Langue")
    expect(languages.locator("[aria-current]")).to_have_text("Français")

    languages.get_by_role("link", name="العربية").click()
    expect(page).to_have_url(re.compile(re.escape("/ar" + LESSON) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("قراءة كسر")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")

    page.locator("header.site nav.languages").get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(re.escape("/en" + LESSON) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Reading a fraction")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    page.locator("header.site nav.languages").get_by_role("link", name="Français").click()
    expect(page).to_have_url(re.compile(re.escape("/fr" + LESSON) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lire une fraction")

    # The same holds on a catalogue page.
    page = reader.open("/fr/zz/cm1/")
    page.locator("header.site nav.languages").get_by_role("link", name="العربية").click()
    expect(page).to_have_url(re.compile(r"/ar/zz/cm1/$"))
    expect(page.locator("html")).to_have_attribute("lang", "ar")

    reader.assert_private()


def test_downloaded_module_reads_offline(reader, tmp_path):
    page = reader.open("/fr" + MODULE)
    with page.expect_download(timeout=TIMEOUT_MS) as download_info:
        page.get_by_role("link", name=re.compile("Télécharger")).click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == "zz-maths-fractions-v1-fr.zip"
    archive_path = tmp_path / download.suggested_filename
    download.save_as(archive_path)

    target = tmp_path / "unzipped"
    with zipfile.ZipFile(archive_path) as archive:
        for name in archive.namelist():
            assert not name.startswith("/") and ".." not in Path(name).parts, name
        archive.extractall(target)
    index = target / "zz-maths-fractions" / "index.html"
    assert index.is_file(), sorted(str(p.relative_to(target)) for p in target.rglob("*"))

    # Offline: the pages are opened from the disk, with no server involved.
    served_before = len(reader.requests)
    page.goto(index.as_uri())
    expect(page.get_by_role("heading", level=1)).to_have_text("Les fractions")
    page.get_by_role("link", name="Lire une fraction").click()
    expect(page).to_have_url(re.compile(r"^file://.*/01-lire-une-fraction\.html$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lire une fraction")
    expect(page.get_by_text("partage l'unité en")).to_be_visible()
    expect(page.locator("article.lesson math").first).to_be_visible()
    expect_image_loaded(page)
    page.get_by_role("link", name=re.compile(r"Suivante\s+Comparer des fractions")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Comparer des fractions")
    offline = reader.requests[served_before:]
    assert offline and all(url.startswith("file://") for url in offline), offline

    reader.assert_private()
