"""The interface translations: complete in French and English, navigable in Arabic, in sync."""

from __future__ import annotations

import re

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from imaginecole.config import PROJECT_ROOT, TRANSLATIONS_DIR

PLACEHOLDER = re.compile(r"%\((\w+)\)([sdif])")
NAVIGATION = [
    "Home",
    "Language",
    "Next",
    "Previous",
    "Lessons",
    "All lessons",
    "Lessons of this module",
    "Choose a country",
    "Choose a class.",
    "Choose a subject.",
    "Skip to content",
    "You are here",
    "Page not found",
    "Back to the home page",
    "Something went wrong",
    "Download for offline use (ZIP)",
    "This lesson is not translated yet; it is shown in its original language.",
]


def catalog(lang: str):
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        return read_po(stream, locale=lang)


def forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def messages(lang: str):
    return [message for message in catalog(lang) if message.id]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set:
    """Every msgid the code and templates use, extracted the way the project does it."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel", "-q", "extract",
            "-F", str(TRANSLATIONS_DIR / "babel.cfg"),
            "-k", "_l", "-k", "lazy_gettext",
            "--no-location", "-o", str(pot),
            str(PROJECT_ROOT / "imaginecole"),
        ]
    )  # fmt: skip
    with pot.open("rb") as stream:
        ids = {message.id for message in read_po(stream) if message.id}
    assert len(ids) > 40  # the extraction really found the interface
    return ids


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_french_and_english_are_complete(lang):
    entries = messages(lang)

    untranslated = [m.id for m in entries if not all(f.strip() for f in forms(m))]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_french_really_is_french():
    french = {m.id: forms(m) for m in messages("fr")}

    assert french["Home"] == ["Accueil"]
    assert french["Page not found"] == ["Page introuvable"]
    assert french[("%(num)d lesson", "%(num)d lessons")] == ["%(num)d leçon", "%(num)d leçons"]


def test_arabic_has_every_navigation_string():
    arabic = {m.id: m for m in messages("ar")}

    missing = [msgid for msgid in NAVIGATION if msgid not in arabic]
    assert missing == []
    for msgid in NAVIGATION:
        message = arabic[msgid]
        assert not message.fuzzy, msgid
        [text] = forms(message)
        assert text.strip() and text != msgid, msgid
        assert re.search(r"[\u0600-\u06ff]", text), msgid  # written in Arabic script


def test_arabic_plurals_have_all_six_forms():
    plurals = [m for m in messages("ar") if isinstance(m.id, tuple | list)]

    assert plurals
    for message in plurals:
        assert len(forms(message)) == 6, message.id
        assert all(form.strip() for form in forms(message)), message.id


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_catalogs_are_in_sync_with_the_code(extracted, lang):
    known = {m.id for m in messages(lang)}

    missing = sorted(str(msgid) for msgid in extracted - known)
    assert missing == [], f"run `imaginecole translations extract` then `update` ({lang})"


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_placeholders_survive_translation(lang):
    checked = 0
    for message in messages(lang):
        ids = list(message.id) if isinstance(message.id, tuple | list) else [message.id]
        expected = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        if not expected:
            continue
        checked += 1
        sample = {name: (3 if kind in "di" else "x") for name, kind in expected}
        for form in forms(message):
            if not form:
                continue
            found = set(PLACEHOLDER.findall(form))
            if isinstance(message.id, str) or lang in ("fr", "en"):
                assert found == expected, (message.id, form)
            else:
                # An Arabic plural form may spell the number out ("two lessons").
                assert found <= expected, (message.id, form)
            assert form % sample  # formats without KeyError or TypeError
        assert "python-format" in message.flags, message.id
    assert checked >= 3  # %(num)d lessons and modules, %(code)s in the error page
    assert not list(catalog(lang).check())


def test_placeholders_are_filled_on_real_pages(client):
    english = client.get("/en/zz/cm1/mathematiques/").get_data(as_text=True)
    arabic = client.get("/ar/zz/cm1/mathematiques/").get_data(as_text=True)

    assert "2 lessons" in english
    assert "%(num)" not in english and "%(num)" not in arabic
    assert re.search(r"\b2\b", arabic)
