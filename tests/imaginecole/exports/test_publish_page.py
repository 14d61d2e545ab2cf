"""The national publishing page offers the country's ZIM files, built in the background."""

from __future__ import annotations

import logging
import re
import sys
import time
from html import unescape

import pytest

from imaginecole.exports import builds, zim
from tests.conftest import load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as, copy_test_content, post

pytest.importorskip("libzim.reader", reason="the zim extra (libzim) is not installed")

PAGE = "/{lang}/national/zz/publish"


@pytest.fixture
def national(tmp_path):
    app = make_app(tmp_path / "data")
    report = load_content(app, copy_test_content(tmp_path / "content"))
    assert not report.problems
    add_accounts(app)
    return app


def wait_until_built(client, name: str) -> str:
    for _ in range(300):  # at most 30 s
        page = client.get(PAGE.format(lang="en")).get_data(as_text=True)
        if f"/en/national/zz/exports/{name}" in page and "Being built" not in page:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{name} was not built")


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_the_page_offers_a_zim_per_country_and_level(national, lang):
    page = client_as(national, "editor-zz").get(PAGE.format(lang=lang)).get_data(as_text=True)
    assert 'id="zim-files"' in page
    assert page.count('name="level"') == 3  # the whole country, CM1 and 7e année
    assert {"fr": "Fichiers ZIM pour Kiwix", "en": "ZIM files for Kiwix", "ar": "ملفات ZIM"}[
        lang
    ] in page


def test_a_zim_is_built_in_the_background_listed_with_its_size_and_downloaded(national):
    editor = client_as(national, "editor-zz")
    response = post(editor, "/en/national/zz/exports/zim", {"level": "cm1"})
    assert response.status_code == 302
    page = wait_until_built(editor, "imaginecole-zz-cm1.zim")
    assert re.search(r"imaginecole-zz-cm1\.zim</a> \(\d+\.\d MB\)", page)
    download = editor.get("/en/national/zz/exports/imaginecole-zz-cm1.zim")
    assert download.status_code == 200
    assert download.data[:4] == b"ZIM\x04"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert editor.get("/en/national/zz/exports/imaginecole-zz.zim").status_code == 404  # not built


def test_other_countries_and_unknown_levels_are_refused(national):
    assert client_as(national, "editor-yy").get(PAGE.format(lang="en")).status_code == 404
    stranger = client_as(national, "editor-yy")
    assert post(stranger, "/en/national/zz/exports/zim", {"level": ""}).status_code == 404
    editor = client_as(national, "editor-zz")
    assert post(editor, "/en/national/zz/exports/zim", {"level": "nope"}).status_code == 404
    assert editor.get("/en/national/zz/exports/..%2Fsecret_key").status_code == 404


def test_a_failed_build_is_shown_on_the_page_without_its_details(national, monkeypatch):
    def broken(selection, out, progress=None):
        raise ValueError("/secret/path/of/the/server")

    monkeypatch.setattr(builds, "export_zim", broken)
    editor = client_as(national, "editor-zz")
    post(editor, "/en/national/zz/exports/zim", {"level": ""})
    for _ in range(100):
        page = editor.get(PAGE.format(lang="en")).get_data(as_text=True)
        if "The last build failed" in page:
            break
        time.sleep(0.1)
    assert "An unexpected error stopped the build" in page
    assert "/secret/path" not in page
    assert "imaginecole-zz.zim</a>" not in page


def zim_file(app, name: str):
    """The path of a ZIM file offered on the page (its folder made)."""
    with app.app_context():
        folder = builds.exports_folder("zz")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.parametrize(
    "lang, size", [("fr", "1\u202f234,6 Mo"), ("en", "1,234.6 MB"), ("ar", "1,234.6 م.ب")]
)
def test_a_zim_size_is_written_in_the_readers_number_format(national, lang, size):
    with zim_file(national, "imaginecole-zz.zim").open("wb") as built:
        built.truncate(1_234_567_890)  # sparse: a large file that takes no disk space
    page = client_as(national, "editor-zz").get(PAGE.format(lang=lang)).get_data(as_text=True)
    assert f"imaginecole-zz.zim</a> ({size})" in page


def french_failure(national) -> str:
    """The reason the French page gives for the failed build of the whole country's file."""
    page = client_as(national, "editor-zz").get(PAGE.format(lang="fr")).get_data(as_text=True)
    found = re.search(r"La dernière fabrication a échoué : (.*?)</p>", page)
    assert found, "no failure shown"
    return unescape(found.group(1))


def test_a_missing_zim_library_is_explained_in_the_readers_language(national, monkeypatch):
    monkeypatch.setitem(sys.modules, "libzim.writer", None)  # as if it were not installed
    builds.run_zim_build(national, "zz", None)
    assert french_failure(national) == (
        "Ce serveur ne peut pas écrire de fichiers ZIM : la bibliothèque libzim manque. "
        "L'administrateur du serveur l'installe avec pip install 'imaginecole[zim]'."
    )


def test_a_failed_write_is_explained_in_the_readers_language_and_logged(
    national, monkeypatch, caplog
):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zim, "illustration", full_disk)
    with caplog.at_level(logging.WARNING, logger="imaginecole.exports.builds"):
        builds.run_zim_build(national, "zz", None)
    reason = french_failure(national)
    assert reason == (
        "Le fichier n'a pas pu être écrit sur le disque du serveur ; "
        "le journal du serveur en donne le détail."
    )
    assert "No space left on device" in caplog.text  # the details go to the log
    assert not zim_file(national, "imaginecole-zz.zim").exists()


def test_a_failure_noted_by_an_older_version_is_explained_in_the_readers_language(national):
    note = zim_file(national, "imaginecole-zz.zim.failed")
    note.write_text("The ZIM file could not be written: disk full. Nothing was left.", "utf-8")
    assert french_failure(national) == (
        "Le fichier n'a pas pu être fabriqué ; le journal du serveur en donne le détail."
    )
