"""A booklet opened from a stick prints to PDF in a browser, with its contents, in fr and ar."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.accessibility import audit, horizontal_overflow

pytestmark = pytest.mark.browser

A4 = {"width": 794, "height": 1123}  # CSS pixels of an A4 sheet at 96 dpi


@pytest.fixture(scope="module")
def booklets(exercises_app, tmp_path_factory):
    out = tmp_path_factory.mktemp("booklets")
    result = exercises_app.test_cli_runner().invoke(
        args=["export", "booklets", "--country", "zz", "--out", str(out)]
        + ["--language", "fr", "--language", "ar", "--level", "CM1"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_booklet_from_a_file_prints_with_its_contents_and_images(
    browser, booklets, screenshots_dir, lang
):
    context = browser.new_context(java_script_enabled=False, viewport=A4)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto((booklets / f"cm1-mathematiques-{lang}.html").as_uri())
    page.emulate_media(media="print")

    contents = page.locator("nav.booklet-contents")
    expect(contents.get_by_role("heading", level=2)).to_have_text(
        "Sommaire" if lang == "fr" else "المحتويات"
    )
    expect(contents.locator("a[href='#zz-maths-fractions--comparer']")).to_be_visible()
    expect(page.locator("article.printed-module")).to_have_count(1)
    expect(page.locator(".booklet-notice")).to_be_hidden()  # for the screen only
    images = page.locator(".print-lesson img")
    if lang == "fr":  # the French lesson has a picture
        expect(images).not_to_have_count(0)
    for image in images.all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    assert horizontal_overflow(page) == []
    assert all(url.startswith(("file://", "data:")) for url in requested), requested
    if lang == "ar":  # right to left: the contents start at the right margin
        box = contents.get_by_role("heading", level=2).bounding_box()
        assert box and A4["width"] - (box["x"] + box["width"]) < 60, box
    page.screenshot(path=screenshots_dir / f"booklet-{lang}.png", full_page=True)

    pdf = page.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # The cover, the contents, then the module from a sheet of its own.
    assert pages >= 3, pages
    context.close()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_booklet_read_on_a_phone_passes_axe(browser, booklets, lang):
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    for name in ("mathematiques", "sciences"):  # a picture and formulas; exercises
        page.goto((booklets / f"cm1-{name}-{lang}.html").as_uri())
        audit(page)
    context.close()
