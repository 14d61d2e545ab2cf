"""Keys made on purpose, a stolen key recovered from, and trust files that cannot go back."""

from __future__ import annotations

import base64
import html
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from imaginecole.bundles.keys import (
    BundleSetupError,
    WrongSigningKey,
    rotation_statement,
)
from imaginecole.bundles.models import InstalledBundle, SigningKey
from imaginecole.bundles.operations import build_country_bundle, import_bundle
from imaginecole.content.models import Module
from imaginecole.datadir import signing_key_path
from imaginecole.extensions import db
from sync.bundle import (
    PrivateKey,
    PublicKey,
    RevokedBase,
    Rollback,
    TrustRollback,
    UntrustedKey,
    build_bundle,
    generate_key_files,
    load_private_key,
    root_entry_toml,
    sign_trust,
    trust_entry_toml,
)
from sync.content import read_content
from tests.conftest import TEST_CONTENT, give_signing_key, load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as, post

ROOT = PrivateKey.generate()  # the ministry's root key, kept offline


def national_server(path: Path):
    app = make_app(path)
    assert not load_content(app).problems
    return app


def build(app, since: int | None = None) -> Path:
    with app.app_context():
        # These bundles re-sign the same content after a key changed hands.
        built = build_country_bundle("zz", since=since, allow_unchanged=True)
        db.session.commit()
        return Path(built.path)


def key_of(app) -> PrivateKey:
    with app.app_context():
        return load_private_key(signing_key_path())


def trust_file(
    path: Path, version: int, publishers: list[PrivateKey], revoked=(), signers=(ROOT,)
) -> Path:
    text = f"format = 1\nversion = {version}\nroot_threshold = 1\n"
    if revoked:
        text += "revoked = [" + ", ".join(f'"{k.key_id}"' for k in revoked) + "]\n"
    text += "\n" + root_entry_toml(ROOT.public, "Ministère")
    text += "".join("\n" + trust_entry_toml(k.public, ["zz"]) for k in publishers)
    data = text.encode()
    for signer in signers:
        data = sign_trust(data, signer)
    path.write_bytes(data)
    return path


def school_modules(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Module.uid).filter_by(country_code="zz")))


def history(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.scalars(select(InstalledBundle).order_by(InstalledBundle.version))
        return [(row.version, row.publisher_key_id) for row in rows]


def cli(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


# ---------------------------------------------------------------------------- keys on purpose


def test_a_build_without_a_key_makes_none_and_says_how_to_create_it(tmp_path):
    national = national_server(tmp_path / "national")
    with national.app_context(), pytest.raises(BundleSetupError, match="imaginecole keys generate"):
        build_country_bundle("zz")
    assert not (tmp_path / "national" / "keys").exists()
    result = cli(national, "bundle", "build", "--country", "zz")
    assert result.exit_code == 1 and "imaginecole keys generate" in result.output

    created = cli(national, "keys", "generate", "--country", "zz")
    assert created.exit_code == 0, created.output
    assert f'key_id = "{key_of(national).key_id}"' in created.output
    again = cli(national, "keys", "generate")
    assert again.exit_code == 1 and "keys rotate" in again.output


def test_a_server_that_lost_its_keys_refuses_to_sign_with_a_new_one(tmp_path):
    national = national_server(tmp_path / "national")
    give_signing_key(national)
    first = key_of(national)
    build(national)
    with national.app_context():
        assert db.session.scalars(select(SigningKey.key_id)).all() == [first.key_id]

    shutil.rmtree(tmp_path / "national" / "keys")
    with national.app_context(), pytest.raises(WrongSigningKey, match="put that key file back"):
        build_country_bundle("zz")
    assert not (tmp_path / "national" / "keys").exists()  # no key was made behind anyone's back

    generate_key_files(tmp_path / "national" / "keys", "publisher")  # by hand: another key
    result = cli(national, "bundle", "build", "--country", "zz")
    assert result.exit_code == 1
    assert first.key_id in result.output and "keys rotate --old-key-lost" in result.output


def test_rotating_hands_the_countries_over_signed_by_the_old_key(tmp_path):
    national = national_server(tmp_path / "national")
    give_signing_key(national)
    old = key_of(national)
    build(national)

    result = cli(national, "keys", "rotate")
    assert result.exit_code == 0, result.output
    new = key_of(national)
    assert new.key_id != old.key_id and f'key_id = "{new.key_id}"' in result.output
    with national.app_context():
        record = db.session.scalars(select(SigningKey).order_by(SigningKey.id.desc())).first()
    assert (record.key_id, record.replaces_key_id) == (new.key_id, old.key_id)
    statement = rotation_statement(old.key_id, new, ["zz"])
    assert PublicKey(old.public.raw).verify(base64.b64decode(record.endorsement), statement)
    assert (tmp_path / "national" / "keys" / f"publisher-{old.key_id}.retired").exists()
    with national.app_context():
        rebuilt = build_country_bundle("zz", since=1, allow_unchanged=True)
        assert rebuilt.publisher_key_id == new.key_id


def test_the_message_for_an_existing_key_names_no_option_the_command_lacks(tmp_path):
    generate_key_files(tmp_path, "publisher")
    with pytest.raises(Exception) as caught:
        generate_key_files(tmp_path, "publisher")
    assert "--name" not in str(caught.value)


# ---------------------------------------------------------------------------- a stolen key


def test_a_school_recovers_from_a_stolen_keys_inflated_version_without_going_offline(tmp_path):
    national = national_server(tmp_path / "national")
    give_signing_key(national)
    stolen = key_of(national)
    school = make_app(tmp_path / "school")
    trust_file(tmp_path / "school" / "trust.toml", 1, [stolen])
    with school.app_context():
        import_bundle(build(national))
    modules = school_modules(school)
    assert modules

    # The thief signs version 999999 with the stolen key: every school installs it.
    forged = tmp_path / "forged.icb"
    build_bundle(read_content(TEST_CONTENT), None, "zz", 999999, forged, stolen)
    with school.app_context():
        import_bundle(forged)
    with school.app_context(), pytest.raises(Rollback, match="revokes the key"):
        import_bundle(build(national, since=1))

    # The national team gets a new key; the ministry revokes the old one in trust version 2.
    assert cli(national, "keys", "rotate", "--old-key-lost").exit_code == 0
    real = key_of(national)
    update = trust_file(tmp_path / "trust-v2.toml", 2, [real], revoked=[stolen])
    result = cli(school, "trust", "update", str(update))
    assert result.exit_code == 0, result.output
    assert school_modules(school) == modules  # the content keeps serving meanwhile
    with school.app_context(), pytest.raises(UntrustedKey):
        import_bundle(forged)

    # An update cannot apply to the thief's content; the next full bundle replaces it.
    delta = build(national, since=1)
    with school.app_context(), pytest.raises(RevokedBase, match="full bundle"):
        import_bundle(delta)
    with school.app_context():
        report = import_bundle(build(national))
    assert report.version == 4 and not report.noop
    assert school_modules(school) == modules
    assert history(school) == [(4, real.key_id)]
    with school.app_context():
        assert import_bundle(build(national, since=4)).version == 5  # updates follow again


def test_an_old_trust_file_put_back_is_refused_until_replaced_on_purpose(tmp_path):
    thief, real = PrivateKey.generate(), PrivateKey.generate()
    school = make_app(tmp_path / "school")
    trust_path = tmp_path / "school" / "trust.toml"
    old = trust_file(tmp_path / "trust-v1.toml", 1, [real, thief])
    shutil.copyfile(old, trust_path)
    assert cli(school, "trust", "show").exit_code == 0
    newer = trust_file(tmp_path / "trust-v2.toml", 2, [real], revoked=[thief])
    assert cli(school, "trust", "update", str(newer)).exit_code == 0

    shutil.copyfile(old, trust_path)  # restored from an old copy: it trusts the thief again
    with school.app_context(), pytest.raises(TrustRollback, match="older than version 2"):
        import_bundle(tmp_path / "any.icb")
    result = cli(school, "trust", "show")
    assert result.exit_code == 1 and "trust replace" in result.output

    unsigned = trust_file(tmp_path / "trust-v3.toml", 3, [real, thief], signers=())
    refused = cli(school, "trust", "update", str(unsigned))
    assert refused.exit_code == 1 and "0 valid signature" in refused.output

    replaced = cli(school, "trust", "replace", str(old), input="y\n")
    assert replaced.exit_code == 0, replaced.output
    assert "version 1" in cli(school, "trust", "show").output


# ---------------------------------------------------------------------------- the admin page


REFUSED_TRUST_FILES = {
    "damaged": (
        "[[keys]\n",  # not TOML
        {
            "fr": "Le fichier de confiance de ce serveur est inutilisable.",
            "ar": "لا يمكن استعمال ملف الثقة الخاص بهذا الخادم.",
        },
    ),
    "older than the one accepted": (
        None,  # an old copy put back after a newer file was accepted
        {
            "fr": "Le fichier de confiance de ce serveur est plus ancien",
            "ar": "ملف الثقة في هذا الخادم أقدم من الملف الذي قبله من قبل",
        },
    ),
}


@pytest.mark.parametrize("lang", ["fr", "ar"])
@pytest.mark.parametrize("case", list(REFUSED_TRUST_FILES))
def test_the_install_page_explains_a_refused_trust_file(tmp_path, case, lang):
    national = national_server(tmp_path / "national")
    give_signing_key(national)
    drive = tmp_path / "drive"
    drive.mkdir()
    bundle = Path(shutil.copy(build(national), drive))
    school = make_app(tmp_path / "school", BUNDLE_SEARCH_PATHS=(str(drive),))
    add_accounts(school, [("admin", "admin", None)])
    trust_path = tmp_path / "school" / "trust.toml"
    damaged_text, expected = REFUSED_TRUST_FILES[case]
    if damaged_text is None:
        publisher = key_of(national)
        old = trust_file(tmp_path / "trust-v1.toml", 1, [publisher])
        shutil.copyfile(old, trust_path)
        newer = trust_file(tmp_path / "trust-v2.toml", 2, [publisher])
        assert cli(school, "trust", "update", str(newer)).exit_code == 0
        shutil.copyfile(old, trust_path)
    else:
        trust_path.write_text(damaged_text, encoding="utf-8")
    admin = client_as(school, "admin")

    listed = admin.get(f"/{lang}/admin/bundles")
    assert listed.status_code == 200
    assert expected[lang] in html.unescape(listed.get_data(as_text=True))
    refused = post(admin, f"/{lang}/admin/bundles/install-all")

    assert refused.status_code == 400
    page = html.unescape(refused.get_data(as_text=True))
    assert expected[lang] in page
    assert "Traceback" not in page and "BEGIN" not in page
    assert bundle.exists()  # the drive is only read
    assert school_modules(school) == []
    assert history(school) == []
