"""The forms of editors, reviewers and teachers on a 360 px phone, in French and in Arabic.

No page may scroll sideways (a wide table scrolls in its own box), and a text field takes the
width of the form, under its label, rather than a 230 px box beside it.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import Page

from imaginecole.accounts.operations import create_user
from imaginecole.extensions import db
from imaginecole.uploads.operations import receive_upload
from tests.conftest import TEST_CONTENT, load_content, make_app
from tests.imaginecole.review.test_workflow import UID, add_submission
from tests.imaginecole.uploads.test_uploads import make_course, zip_folder
from tests.live_server import start_server, stop_server

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
PASSWORD = "a long enough password"
EDITOR, TEACHER, ADMIN = "editor@ministere.zz", "awa@ecole.zz", "admin@ecole.zz"

# What the page shows that a phone cannot: how wide the page is, anything sticking out of the
# viewport outside a box that scrolls on its own, and text fields narrower than their form.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (element) => {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowX;
      if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") return true;
    }
    return false;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "");
  const sticking = [];
  for (const element of document.querySelectorAll("main *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || scrolls(element)) continue;
    if (box.right > width + 1 || box.left < -1) sticking.push(name(element) + " " + Math.round(box.width));
  }
  const narrow = [];
  const fields = "form.stacked input:not([type=checkbox]):not([type=radio]):not([type=hidden])," +
    "form.stacked textarea, form.stacked select";
  for (const field of document.querySelectorAll(fields)) {
    const box = field.getBoundingClientRect();
    if (box.width === 0) continue;  // in a closed <details>
    const form = field.closest("form").getBoundingClientRect();
    if (box.width < 0.8 * form.width) narrow.push(name(field) + " " + Math.round(box.width));
  }
  return {page: document.documentElement.scrollWidth, width, sticking: sticking.slice(0, 8),
          narrow};
}"""


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A server with zz loaded, an editor, a teacher and a submission waiting for review."""
    data_dir = tmp_path_factory.mktemp("forms-data")
    app = make_app(data_dir)
    assert not load_content(app, TEST_CONTENT).problems
    course = make_course(tmp_path_factory.mktemp("forms-course"))
    (course / "docs" / "pluie" / "cours.md").write_text(
        "# La pluie\n\n![](../evaporation/soleil.png)\n", "utf-8"
    )  # an image with no description: the report lists it
    with app.app_context():
        editor = create_user(EDITOR, "Moussa Ba", PASSWORD, "editor", "zz")
        create_user(TEACHER, "Awa Diop", PASSWORD, "teacher", "zz", "École A")
        create_user(ADMIN, "Admin", PASSWORD, "admin")
        db.session.commit()
        options = {"levels": ["CM1"], "subject": "sciences", "competencies": ["ZZ-SCI-1"]}
        zipped = io.BytesIO(zip_folder(course, "cours-eau/"))
        upload = receive_upload("zz", editor, "cours-eau.zip", zipped, options)
        db.session.commit()
        assert upload.report["undescribed"], upload.report
    add_submission(app)
    with app.app_context():
        db.engine.dispose()  # the server process opens the database on its own
    try:
        server = start_server(data_dir, tmp_path_factory.mktemp("forms-log") / "server.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    yield server
    stop_server(server)


def signed_in(browser, server, email: str):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/fr/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, page.url
    return context, page


def assert_fits(page: Page, where: str) -> None:
    found = page.evaluate(MEASURE)
    assert found["page"] <= found["width"], (where, found)
    assert found["sticking"] == [], (where, found)
    assert found["narrow"] == [], (where, found)


def open_details(page: Page) -> None:
    for summary in page.locator("main details > summary").all():
        summary.click()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_editor_and_reviewer_forms_fit_a_phone(browser, national, lang):
    context, page = signed_in(browser, national, EDITOR)
    try:
        for path in (
            f"/{lang}/national/modules/zz-maths-fractions/edit",
            f"/{lang}/national/zz/upload",
            f"/{lang}/national/zz/uploads/1",
            f"/{lang}/national/zz/modules",
            f"/{lang}/national/modules/zz-maths-fractions/unpublish",
            f"/{lang}/national/modules/zz-maths-fractions/delete",
            f"/{lang}/national/modules/zz-maths-fractions/history",
            f"/{lang}/national/zz/curriculum/edit",
            f"/{lang}/national/zz/curriculum/import",
            f"/{lang}/review/{UID}",
            f"/{lang}/review/",
            f"/{lang}/review/packages",
        ):
            page.goto(national.url + path)
            assert page.url.endswith(path), page.url
            open_details(page)
            assert_fits(page, path)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_teacher_form_fits_a_phone_and_shows_the_title_once(browser, national, lang):
    context, page = signed_in(browser, national, TEACHER)
    try:
        path = f"/{lang}/my/submissions/new"
        page.goto(national.url + path)
        assert_fits(page, path)
        hint = page.locator("main form p.meta").first.inner_text()
        # The title has its own field: the text is not asked to repeat it as "# Title".
        assert not re.search(r"(^|\s)# ", hint), hint
        page.fill("#title", "Le baobab")
        page.fill("#summary", "Partager des fruits.")
        page.fill("#markdown", "# Le baobab\n\nLe baobab donne des fruits.")
        page.locator("input[name=levels]").first.check()
        page.select_option("#subject", "mathematiques")
        page.locator("input[name=licence]").first.check()
        page.locator("button[value=preview]").click()
        # The preview is a new page: read its headings once it has come.
        page.locator("section.preview article").wait_for()
        headings = page.locator("section.preview article").locator("h1, h2").all_inner_texts()
        assert [text.strip() for text in headings] == ["Le baobab"], headings
        assert_fits(page, path + " (preview)")
    finally:
        context.close()


def test_the_script_sends_every_competency_chosen_for_a_course(browser, national, tmp_path):
    """The upload in pieces (JavaScript on) carries the course settings, a multiple choice too."""
    zipped = tmp_path / "cours-eau.zip"
    zipped.write_bytes(zip_folder(make_course(tmp_path), "cours-eau/"))
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(national.url + "/en/login")
        page.fill("#email", EDITOR)
        page.fill("#password", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.goto(national.url + "/en/national/zz/upload")
        page.set_input_files("#upload-file", str(zipped))
        page.locator("input[name=levels][value=CM1]").check()
        page.select_option("#upload-subject", "sciences")
        page.select_option("#upload-competencies", ["ZZ-SCI-1", "ZZ-MATH-1"])
        page.locator("#zip-upload button[type=submit]").click()
        page.wait_for_url(re.compile(r"/uploads/\d+$"))
        settings = page.locator("dl.facts").inner_text()
        assert "ZZ-MATH-1" in settings and "ZZ-SCI-1" in settings, settings
        # ZZ-MATH-1 is of another subject: the report says so, in the upload's settings.
        assert (
            'competency "ZZ-MATH-1" belongs to the subject'
            in page.locator("#problems").inner_text()
        )
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_login_and_outbox_forms_fit_a_phone(browser, national, lang):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{national.url}/{lang}/login")
        assert_fits(page, "login")
    finally:
        context.close()
    context, page = signed_in(browser, national, ADMIN)
    try:
        for path in (f"/{lang}/admin/outbox", f"/{lang}/admin/accounts"):
            page.goto(national.url + path)
            assert page.url.endswith(path), page.url
            assert_fits(page, path)
    finally:
        context.close()
