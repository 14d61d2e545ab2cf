"""A teacher prints a whole module for a class with no device: fr and ar, as print media."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.accessibility import horizontal_overflow

pytestmark = pytest.mark.browser

A4 = {"width": 794, "height": 1123}  # CSS pixels of an A4 sheet at 96 dpi
PRINT = "/modules/zz-maths-fractions/print"


@pytest.fixture
def sheet(browser):
    context = browser.new_context(java_script_enabled=False, viewport=A4)
    page = context.new_page()
    page.emulate_media(media="print")
    yield page
    context.close()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_printed_module_is_the_content_alone_and_mirrored_in_arabic(
    sheet, live_server, screenshots_dir, lang
):
    sheet.goto(f"{live_server.url}/{lang}/modules/zz-maths-fractions/")
    sheet.emulate_media(media="screen")
    sheet.locator("a.button[href$='/print']").click()
    expect(sheet).to_have_url(re.compile(re.escape(f"/{lang}{PRINT}") + "$"))
    sheet.emulate_media(media="print")

    for chrome in ("header.site", "nav.breadcrumb", "footer.site", "nav.languages", ".notice"):
        expect(sheet.locator(chrome).first).to_be_hidden()
    expect(sheet.get_by_role("heading", level=1).first).to_be_visible()
    expect(sheet.locator(".print-lesson")).to_have_count(2)
    expect(sheet.locator(".licence")).to_have_count(1)
    # Answers are printed: every <details> is open.
    for details in sheet.locator("details").all():
        expect(details).to_have_attribute("open", "")
    images = sheet.locator(".print-lesson img")
    if lang == "fr":  # the French lesson has a correction and a picture
        expect(sheet.get_by_text("La réponse est")).to_be_visible()
        expect(images).not_to_have_count(0)
    for image in images.all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    assert horizontal_overflow(sheet) == []

    title = sheet.get_by_role("heading", level=1).first.bounding_box()
    assert title
    if lang == "ar":  # right to left: the title starts at the right margin, not cut off
        assert A4["width"] - (title["x"] + title["width"]) < 40, title
    else:
        assert title["x"] < 40, title
    sheet.screenshot(path=screenshots_dir / f"print-{lang}.png", full_page=True)

    pdf = sheet.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # The title sheet with the first lesson, then the second lesson on a sheet of its own.
    assert pages >= 2, pages
