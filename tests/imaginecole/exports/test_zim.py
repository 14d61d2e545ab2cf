"""The catalogue as a ZIM file, read back as the Kiwix readers read it."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from imaginecole.config import PROJECT_ROOT
from imaginecole.exports import zim
from imaginecole.exports.selection import ExportError, choose
from imaginecole.exports.zim import export_zim

reader = pytest.importorskip("libzim.reader", reason="the zim extra (libzim) is not installed")
search = pytest.importorskip("libzim.search")


@pytest.fixture(scope="module")
def zim_file(exercises_app, tmp_path_factory):
    out = tmp_path_factory.mktemp("zim") / "zz.zim"
    with exercises_app.app_context():
        export_zim(choose("zz"), out)
    return out


def text_of(archive, path: str) -> str:
    return bytes(archive.get_entry_by_path(path).get_item().content).decode("utf-8")


def found(archive, words: str) -> list[str]:
    results = search.Searcher(archive).search(search.Query().set_query(words))
    return list(results.getResults(0, 20))


def test_the_zim_holds_every_page_with_its_main_page(zim_file):
    archive = reader.Archive(zim_file)
    assert archive.main_entry.get_item().path == "index.html"
    lessons = [
        "modules/zz-maths-fractions/01-lire-une-fraction.html",
        "modules/zz-maths-fractions/02-comparer.html",
        "modules/zz-sciences-eau/01-evaporation.html",
        "modules/zz-sciences-eau/09-exercices.html",
        "modules/zz-histoire-royaume/01-grandes-dates.html",
    ]
    for path in lessons:
        assert archive.get_entry_by_path(path).get_item().mimetype == "text/html"
    # home, 4 subject pages, 3 modules, 5 lessons, credits; the stylesheet and 6 media
    assert archive.entry_count == 14 + 1 + 6
    assert archive.article_count == 13  # front articles: all but the credits page
    assert archive.get_entry_by_path("style.css").get_item().mimetype == "text/css"
    assert "<math" in text_of(archive, lessons[0])
    exercises = text_of(archive, lessons[3])
    assert 'class="answer-key"' in exercises and "<form" not in exercises
    assert archive.has_fulltext_index and archive.has_title_index
    assert archive.check()


def test_the_metadata_is_what_kiwix_requires(zim_file):
    archive = reader.Archive(zim_file)
    meta = {key: bytes(archive.get_metadata(key)) for key in archive.metadata_keys}
    assert meta["Name"] == b"imaginecole_fr_zz"
    assert meta["Language"] == b"fra"
    assert meta["Title"].decode() == "Imaginecole Zedland"
    assert len(meta["Title"].decode()) <= 30 and len(meta["Description"].decode()) <= 80
    assert meta["Description"].decode() == "Leçons de Zedland à lire sans connexion"
    assert meta["LongDescription"] != meta["Description"]
    assert meta["Publisher"] == b"Imaginecole" and meta["Creator"]
    assert meta["Date"].decode().count("-") == 2
    assert b"CC-BY-SA-4.0" in meta["License"]
    assert b"_ftindex:yes" in meta["Tags"]
    png = bytes(archive.get_illustration_item(48).content)
    assert Image.open(io.BytesIO(png)).size == (48, 48)


def test_search_finds_a_french_word(zim_file):
    archive = reader.Archive(zim_file)
    assert "modules/zz-sciences-eau/01-evaporation.html" in found(archive, "soleil")
    # "L'évaporation de l'eau": found after its elision, and typed without its accent.
    assert "modules/zz-sciences-eau/01-evaporation.html" in found(archive, "évaporation")
    assert "modules/zz-sciences-eau/01-evaporation.html" in found(archive, "evaporation")
    assert "modules/zz-maths-fractions/02-comparer.html" in found(archive, "fractions")
    assert "cm1/mathematiques.html" in found(archive, "mathématiques")  # a list, from its HTML
    assert found(archive, "introuvablemot") == []


@pytest.mark.skipif(not shutil.which("zimcheck"), reason="zimcheck (Debian zim-tools) is missing")
def test_zimcheck_passes(zim_file):
    # Every check but -I: Debian's zimcheck is built on libzim 8, whose integrity check wants
    # the old title index that libzim 9 (the writer) no longer writes.
    checks = ["-0", "-C", "-M", "-F", "-P", "-R", "-U", "-X", "-L"]
    result = subprocess.run(
        ["zimcheck", *checks, str(zim_file)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Overall Test Status: Pass" in result.stdout


def test_the_same_content_gives_the_same_entries(exercises_app, zim_file, tmp_path):
    with exercises_app.app_context():
        export_zim(choose("zz"), tmp_path / "again.zim")
    first, second = reader.Archive(zim_file), reader.Archive(tmp_path / "again.zim")

    def contents(archive):
        return {
            entry.path: bytes(entry.get_item().content)
            for entry in (archive._get_entry_by_id(i) for i in range(archive.entry_count))
        }

    assert contents(first) == contents(second)


def test_a_missing_library_is_explained(exercises_app, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "libzim.writer", None)  # as if it were not installed
    with (
        exercises_app.app_context(),
        pytest.raises(ExportError, match=r"imaginecole\[zim\]") as raised,
    ):
        export_zim(choose("zz"), tmp_path / "zz.zim")
    assert raised.value.code == "no_library"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_file(exercises_app, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zim, "illustration", broken)
    with exercises_app.app_context(), pytest.raises(ExportError, match="No space left") as raised:
        export_zim(choose("zz"), tmp_path / "zz.zim")
    assert raised.value.code == "write"
    assert list(tmp_path.iterdir()) == []


# A web worker that serves the publishing page, ZIM files listed, but writes none.
WEB_WORKER = """
import sys
from pathlib import Path

from tests.conftest import load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as

app = make_app(Path(sys.argv[1]))
assert not load_content(app).problems
add_accounts(app)
page = client_as(app, "editor-zz").get("/fr/national/zz/publish")
assert page.status_code == 200 and b'id="zim-files"' in page.data
print(sorted(name for name in sys.modules if name.split(".")[0] == "libzim"))
"""


def test_a_web_worker_that_writes_no_zim_file_does_not_load_libzim(tmp_path):
    # In a process of its own: the other tests of this one have loaded libzim.
    done = subprocess.run(
        [sys.executable, "-c", WEB_WORKER, str(tmp_path / "data")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
