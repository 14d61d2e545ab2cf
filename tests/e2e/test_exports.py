"""The exported folder in a real browser, opened from file:// as from a USB stick."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_CONTENT, load_content, make_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from imaginecole.exports.selection import choose
    from imaginecole.exports.site import export_site

    app = make_app(tmp_path_factory.mktemp("export-data"))
    assert not load_content(app, TEST_CONTENT).problems
    out = tmp_path_factory.mktemp("export") / "zz"
    with app.app_context():
        export_site(choose("zz"), out)
    return out


def open_page(browser, folder, javascript: bool):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return context, page, requests


def test_links_and_images_work_with_javascript_off(browser, folder):
    context, page, requests = open_page(browser, folder, javascript=False)
    try:
        page.goto((folder / "index.html").as_uri())
        page.get_by_role("link", name="Mathématiques").click()
        page.get_by_role("link", name="Les fractions").click()
        page.get_by_role("link", name="Lire une fraction").click()
        expect(page.locator("article.lesson h1")).to_have_text("Lire une fraction")
        image = page.locator("article.lesson img").first
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.locator("math").count() > 0
        page.get_by_role("link", name="Suivante").click()
        expect(page.locator("article.lesson h1")).to_have_text("Comparer des fractions")
        page.goto((folder / "search.html").as_uri())
        notice = page.locator("main p.notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("JavaScript")
        expect(page.locator("#search-form")).to_be_hidden()  # a form that could not search
        notice.get_by_role("link", name="Accueil").click()
        expect(page.locator("h1")).to_have_text("Zedland")
    finally:
        context.close()
    assert requests
    root = folder.as_uri()
    assert all(url.startswith(root + "/") for url in requests), requests


def test_search_finds_a_word_typed_without_its_accent(browser, folder):
    context, page, requests = open_page(browser, folder, javascript=True)
    try:
        page.goto((folder / "search.html").as_uri())
        page.get_by_label("Chercher une leçon").fill("evapor")
        results = page.locator("#search-results a")
        expect(results.first).to_have_text("L'évaporation de l'eau")
        results.first.click()
        expect(page.locator("article.lesson h1")).to_have_text("L'évaporation de l'eau")
        page.goto((folder / "search.html").as_uri() + "?q=royaume+zed")
        expect(page.locator("#search-results a").first).to_have_text("Le royaume de Zed")
        page.get_by_label("Chercher une leçon").fill("motquinexistepas")
        expect(page.locator("#search-status")).to_have_text("Aucune leçon ne contient ces mots.")
    finally:
        context.close()
    root = folder.as_uri()
    assert all(url.startswith(root + "/") for url in requests), requests
