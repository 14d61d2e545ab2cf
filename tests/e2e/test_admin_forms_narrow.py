"""The install, publishing, trust and account pages on a 360 px phone, in French and Arabic:
nothing wider than the screen (a page that scrolls sideways hides its buttons)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from imaginecole.accounts.operations import create_user, issue_password_link
from imaginecole.bundles.operations import build_country_bundle, import_bundle
from imaginecole.extensions import db
from sync.bundle import load_public_key, trust_entry_toml
from tests.conftest import give_signing_key, load_content, make_app
from tests.live_server import start_server, stop_server

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
PASSWORD = "a long enough password"
ADMIN = "admin@example.org"
SN_ADMIN = "chef@education.sn"  # an admin of another country: zz's accounts are not theirs


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server playing both sides: zz built once, its bundle and trust file on a "drive"."""
    data_dir = tmp_path_factory.mktemp("narrow-data")
    drive = tmp_path_factory.mktemp("narrow-media") / "CLE-USB"
    drive.mkdir()
    app = make_app(data_dir)
    assert not load_content(app).problems
    give_signing_key(app)
    with app.app_context():
        bundle = Path(build_country_bundle("zz", note="Première version.").path)
        admin = create_user(ADMIN, "Admin", PASSWORD, "admin")
        teacher = create_user("awa@ecole.zz", "Awa Diop", PASSWORD, "teacher", "zz", "École A")
        secret = issue_password_link(teacher, admin)
        create_user(SN_ADMIN, "Chef SN", PASSWORD, "admin", "sn")
        db.session.commit()
        teacher_id = teacher.id
    shutil.copy(bundle, drive / bundle.name)
    public = load_public_key(data_dir / "keys" / "publisher.pub")
    trust = "format = 1\n\n" + trust_entry_toml(public, ["zz"], "Zedland")
    (data_dir / "trust.toml").write_text(trust, encoding="utf-8")
    (drive / "trust-publisher.toml").write_text(trust, encoding="utf-8")
    with app.app_context():
        import_bundle(drive / bundle.name)  # installed: the removal page has content to list
        db.session.remove()
        db.engine.dispose()
    live = start_server(
        data_dir,
        tmp_path_factory.mktemp("narrow-log") / "server.log",
        settings={
            "IMAGINECOLE_SERVER_ROLE": "both",
            "IMAGINECOLE_BUNDLE_SEARCH_PATHS": json.dumps([str(drive.parent)]),
        },
    )
    yield live, secret, teacher_id
    stop_server(live)


def overflow(page) -> int:
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_every_form_of_these_pages_fits_a_360_px_screen(browser, server, lang):
    live, secret, _ = server
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{live.url}/{lang}/password/{secret}")
        assert page.locator("#again").count() == 1
        pages = {"set password": overflow(page)}

        page.goto(f"{live.url}/{lang}/login")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.locator("form.stacked button").click()
        for name, path in {
            "install": "/admin/bundles",
            "remove": "/admin/bundles/remove/confirm?country=zz&channel=main",
            "publish": "/national/zz/publish",
            "accounts": "/admin/accounts",
            "account": "/admin/accounts/1",
            "trust": "/admin/trust",
            "history": "/national/modules/zz-maths-fractions/history",
        }.items():
            response = page.goto(f"{live.url}/{lang}{path}")
            assert response.status == 200, (name, response.status)
            assert page.locator("html").get_attribute("lang") == lang
            pages[name] = overflow(page)
        # The install page lists the bundle with its status, the publish page its changelog.
        page.goto(f"{live.url}/{lang}/admin/bundles")
        assert page.locator('#found li[data-status="installed"]').count() == 1
        # Its log of installed versions, each changelog open.
        assert page.locator('#installation-log li[data-action="install"]').count() == 1
        for summary in page.locator("#installation-log details > summary").all():
            summary.click()
        assert "Première version." in page.locator("#installation-log").inner_text()
        pages["install, changelogs open"] = overflow(page)
        page.goto(f"{live.url}/{lang}/national/zz/publish")
        assert "Première version." in page.locator("#bundles").inner_text()
        assert {name: px for name, px in pages.items() if px > 0} == {}
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_an_account_of_another_country_is_refused_on_a_page_that_fits(browser, server, lang):
    live, _, teacher_id = server
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{live.url}/{lang}/login")
        page.fill("#email", SN_ADMIN)
        page.fill("#password", PASSWORD)
        page.locator("form.stacked button").click()
        response = page.goto(f"{live.url}/{lang}/admin/accounts/{teacher_id}")
        assert response.status == 403
        assert page.locator("html").get_attribute("lang") == lang
        refusal = page.locator("main p.error").inner_text()
        assert ("Rien n'a été modifié" if lang == "fr" else "لم يتغير شيء") in refusal
        assert overflow(page) == 0
        # Their list of accounts does not show zz's teacher.
        page.goto(f"{live.url}/{lang}/admin/accounts")
        assert "awa@ecole.zz" not in page.locator("#accounts").inner_text()
    finally:
        context.close()
