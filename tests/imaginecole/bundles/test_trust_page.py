"""Trust in the browser: a national admin hands out the publishing key's entry; a school admin
compares its fingerprint and adds it from a USB drive."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from imaginecole.bundles.keys import current_trust
from imaginecole.bundles.operations import build_country_bundle, import_bundle
from imaginecole.datadir import signing_key_path
from imaginecole.extensions import db
from sync.bundle import generate_key_files, load_private_key, trust_entry_toml
from tests.conftest import give_signing_key, load_content, make_app
from tests.imaginecole.national_helpers import Page, add_accounts, client_as, post

PAGE = "/en/admin/trust"
ADMIN = [("admin", "admin", None)]


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A national server that built a bundle of zz, and that bundle."""
    app = make_app(tmp_path_factory.mktemp("national") / "data", SERVER_ROLE="national")
    load_content(app)
    give_signing_key(app)
    add_accounts(app, ADMIN)
    with app.app_context():
        bundle = Path(build_country_bundle("zz").path)
        public = load_private_key(signing_key_path()).public
    return app, bundle, public


def spaced(digest: str) -> str:
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


@pytest.fixture
def drive(tmp_path) -> Path:
    path = tmp_path / "media" / "CLE"
    path.mkdir(parents=True)
    return path


def school(tmp_path, drive, name="school"):
    app = make_app(tmp_path / name, SERVER_ROLE="school", BUNDLE_SEARCH_PATHS=(str(drive.parent),))
    add_accounts(app, ADMIN)
    return app


def test_a_national_admin_sees_and_downloads_the_publishing_keys_entry(national):
    app, _, public = national
    admin = client_as(app, "admin")
    text = Page(admin.get(PAGE).get_data(as_text=True)).text
    assert spaced(hashlib.sha256(public.raw).hexdigest()) in text
    assert f'key_id = "{public.key_id}"' in text and 'countries = ["zz"]' in text
    assert "Add from a USB drive" not in text  # a school's tool
    download = admin.get("/en/admin/trust/publisher.toml")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == "attachment; filename=trust-publisher.toml"
    assert trust_entry_toml(public, ["zz"], "Imaginecole ZZ") in download.get_data(as_text=True)


def test_a_school_compares_the_fingerprint_adds_the_key_and_then_installs_bundles(
    national, tmp_path, drive
):
    app, bundle, public = national
    entry = client_as(app, "admin").get("/en/admin/trust/publisher.toml").data
    (drive / "trust-publisher.toml").write_bytes(entry)
    (drive / "notes.toml").write_text("title = 'not keys'\n", encoding="utf-8")
    site = school(tmp_path, drive)
    admin = client_as(site, "admin")

    text = Page(admin.get(PAGE).get_data(as_text=True)).text
    assert "No trust file yet" in text
    assert spaced(hashlib.sha256(public.raw).hexdigest()) in text  # read aloud, compared
    assert "Not a trust file." in text  # notes.toml
    assert "This server's publishing key" not in text  # a national tool

    response = post(admin, "/en/admin/trust/add", {"path": str(drive / "trust-publisher.toml")})
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "The trust file is updated" in page
    with site.app_context():
        assert list(current_trust().keys) == [public.key_id]
        assert import_bundle(bundle).version == 1
        db.session.remove()

    # Another publisher's entry is added beside it, not in its place.
    other = generate_key_files(tmp_path / "other-keys", "publisher")
    other_public = load_private_key(other.private_path).public
    (drive / "trust-publisher.toml").write_text(
        "format = 1\n\n" + trust_entry_toml(other_public, ["yy"], "Yland"), encoding="utf-8"
    )
    post(admin, "/en/admin/trust/add", {"path": str(drive / "trust-publisher.toml")})
    with site.app_context():
        assert set(current_trust().keys) == {public.key_id, other_public.key_id}


def test_only_files_on_the_drive_are_read_and_only_admins_may(national, tmp_path, drive):
    site = school(tmp_path, drive)
    outside = tmp_path / "outside.toml"  # a valid trust file, but not on a drive
    outside.write_text("format = 1\n", encoding="utf-8")
    admin = client_as(site, "admin")
    response = post(admin, "/en/admin/trust/add", {"path": str(outside)})
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "That file is no longer on the drive" in page
    with site.app_context():
        assert not Path(site.config["DATA_DIR"], "trust.toml").exists()

    add_accounts(site, [("teacher-zz", "teacher", "zz")])
    teacher = client_as(site, "teacher-zz")
    assert teacher.get(PAGE).status_code == 403
    assert post(teacher, "/en/admin/trust/add", {"path": "x"}).status_code == 403
