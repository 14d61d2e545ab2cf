"""The catalogue as a folder that opens from file:// with no server and no request outside it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from imaginecole.exports.selection import ExportError, choose
from imaginecole.exports.site import export_site, search_words

FAT32_FORBIDDEN = re.compile(r'[:*?"<>|\\\x00-\x1f]')


class Links(HTMLParser):
    """Every address a page names (href, src, srcset, poster), with the page's lang and dir."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.root: dict[str, str | None] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "html":
            self.root = found
        for name in ("href", "src", "poster"):
            if found.get(name):
                self.urls.append(found[name])
        if found.get("srcset"):
            self.urls += [item.split()[0] for item in found["srcset"].split(",") if item.strip()]


def pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def test_every_link_and_image_resolves_to_a_file_of_the_folder(site):
    checked = 0
    for page in pages(site):
        for url in Links(page.read_text(encoding="utf-8")).urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, (page, url)
            assert not url.startswith("/"), (page, url)
            if not parts.path:
                continue  # "#exercise-2": a place in the same page
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), (page, url)
            assert target.is_relative_to(site.resolve()), (page, url)
            checked += 1
    assert checked > 50


def test_the_site_holds_every_module_lesson_formula_exercise_and_credit(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "CM1" in home and "Mathématiques" in home
    lesson = (site / "modules/zz-maths-fractions/01-lire-une-fraction.html").read_text()
    assert "<math" in lesson and 'class="math-text"' in lesson
    exercises = (site / "modules/zz-sciences-eau/09-exercices.html").read_text()
    assert "<form" not in exercises  # no server checks an answer here: the paper version
    assert 'class="answer-key"' in exercises and "4,5 L" in exercises
    credits = (site / "licences.html").read_text()
    assert "Awa Diallo" in credits and "CC-BY-SA-4.0" in credits
    assert "/static/" not in "".join(p.read_text() for p in pages(site))
    assert any(site.glob("media/*.webp"))


def test_names_fit_fat32(site):
    names = [path.relative_to(site).as_posix() for path in site.rglob("*")]
    assert names
    for name in names:
        assert not FAT32_FORBIDDEN.search(name), name
        assert all(len(part) <= 64 + 5 for part in name.split("/")), name
        assert len(name) < 200, name
    folded = [name.lower() for name in names]
    assert len(set(folded)) == len(folded)


def test_arabic_pages_are_right_to_left(exercises_app, tmp_path):
    with exercises_app.app_context():
        export_site(choose("zz", subjects=("mathematiques",), language="ar"), tmp_path / "ar")
    lesson = tmp_path / "ar/modules/zz-maths-fractions/01-lire-une-fraction.html"
    root = Links(lesson.read_text(encoding="utf-8")).root
    assert root == {"lang": "ar", "dir": "rtl"}


def test_the_same_content_gives_the_same_bytes(exercises_app, site, tmp_path):
    with exercises_app.app_context():
        export_site(choose("zz"), tmp_path / "again")
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {
        p.relative_to(tmp_path / "again"): p.read_bytes()
        for p in (tmp_path / "again").rglob("*")
        if p.is_file()
    }
    assert first == second


def test_the_search_index_finds_words_as_typed_without_accents(site):
    index = (site / "search-index.js").read_text(encoding="utf-8")
    assert index.startswith("window.IMAGINECOLE_SEARCH = ")
    assert '"evaporation"' in index and "évaporation" not in index.split('"terms"')[1]
    assert '"eau"' in index  # "l'eau": the elision is dropped
    search = (site / "search.html").read_text(encoding="utf-8")
    assert '<script src="search-index.js"></script>' in search
    assert "<noscript>" in search


def test_search_words_fold_accents_elisions_and_arabic_vowels():
    assert search_words("L'Évaporation de l’eau, qu'elle") >= {"evaporation", "eau", "elle"}
    assert "l'evaporation" not in search_words("l'évaporation")
    assert search_words("كَتَبَ") == {"كتب"}


def test_an_existing_folder_is_never_overwritten(exercises_app, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with exercises_app.app_context(), pytest.raises(ExportError, match="not an empty folder"):
        export_site(choose("zz"), out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_an_unwritable_folder_is_reported(exercises_app):
    # /proc refuses new files even to root, which a folder's permissions do not stop.
    with exercises_app.app_context(), pytest.raises(ExportError, match="Cannot write in /proc"):
        export_site(choose("zz"), Path("/proc/imaginecole-site"))
