"""Printed booklets: one self-contained HTML file per class and subject, from the database."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imaginecole.extensions import db
from imaginecole.media.models import ImageVariant
from imaginecole.media.operations import blob_store

MATHS = "cm1-mathematiques"
SCIENCES = "cm1-sciences"


class Document(HTMLParser):
    """A booklet parsed: every tag with its attributes, and its visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def ids(self) -> set[str]:
        return {attrs["id"] for _name, attrs in self.tags if "id" in attrs}


def export(app, out: Path, *args: str):
    result = app.test_cli_runner().invoke(
        args=["export", "booklets", "--country", "zz", "--out", str(out), *args]
    )
    return result


@pytest.fixture(scope="module")
def booklets(exercises_app, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("booklets")
    result = export(exercises_app, out, "--language", "fr", "--language", "ar")
    assert result.exit_code == 0, result.output
    return out


def test_one_booklet_per_class_subject_and_language_with_published_modules(booklets):
    assert sorted(path.name for path in booklets.iterdir()) == sorted(
        f"{pair}-{lang}.html"
        for pair in (MATHS, SCIENCES, "7e-annee-sciences", "7e-annee-histoire")
        for lang in ("fr", "ar")
    )


def test_a_booklet_has_a_cover_contents_every_module_and_the_credits(booklets):
    html = (booklets / f"{SCIENCES}-fr.html").read_text("utf-8")
    page = Document(html)

    assert (
        html.index("booklet-cover")
        < html.index("booklet-contents")
        < html.index('class="printed-module"')
        < html.index('class="booklet-credits"')
    )
    assert "Sommaire" in page.text and "Licences et crédits" in page.text
    targets = [a["href"] for a in page.named("a") if a.get("href", "").startswith("#")]
    assert "#zz-sciences-eau" in targets and "#zz-sciences-eau--evaporation" in targets
    assert set(t[1:] for t in targets) <= page.ids()  # every entry of the contents leads somewhere
    assert [a["id"] for a in page.named("article")] == ["zz-sciences-eau"]
    every_id = [attrs["id"] for _name, attrs in page.tags if "id" in attrs]
    assert len(every_id) == len(set(every_id))  # also the exercises' of every lesson
    lessons = [s for s in page.named("section") if "print-lesson" in s.get("class", "")]
    assert len(lessons) == 2 and targets.count("#zz-sciences-eau--exercices") == 1
    credits = html[html.index('<section class="booklet-credits"') :]
    assert "CC-BY-4.0" in credits and "Auteurs" in credits


def test_exercises_are_worksheets_with_their_answer_key(booklets):
    html = (booklets / f"{SCIENCES}-fr.html").read_text("utf-8")
    lesson = html[html.index('id="zz-sciences-eau--exercices--exercise-1"') :]
    assert "<form" not in html and "<input" not in lesson
    key = lesson[lesson.index('<section class="answer-key">') :]
    assert "4,5 L" in key and "4,5 L" not in lesson[: lesson.index('<section class="answer-key">')]


def test_a_booklet_needs_nothing_outside_itself(booklets, exercises_app):
    html = (booklets / f"{MATHS}-fr.html").read_text("utf-8")
    page = Document(html)

    assert not page.named("link") and not page.named("script")
    assert "@page" in html and ".print-lesson" in html  # the stylesheet is inside
    for attrs in page.named("a"):
        assert attrs.get("href", "#").startswith("#"), attrs
    sources = [attrs["src"] for attrs in page.named("img")]
    assert sources and all(src.startswith("data:image/") for src in sources)
    # The image is the widest variant that every browser prints, not the original upload.
    with exercises_app.app_context():
        variants = db.session.scalars(db.select(ImageVariant)).all()
        widest = max((v for v in variants if v.media_type != "image/webp"), key=lambda v: v.width)
        expected = blob_store().path(widest.sha256).read_bytes()
    media_type, data = re.match(r"data:([^;]+);base64,(.*)", sources[0]).groups()
    assert media_type == widest.media_type and base64.b64decode(data) == expected


def test_an_arabic_booklet_reads_right_to_left(booklets):
    html = (booklets / f"{MATHS}-ar.html").read_text("utf-8")
    page = Document(html)

    assert page.named("html") == [{"lang": "ar", "dir": "rtl"}]
    assert "المحتويات" in page.text and "التراخيص والإسناد" in page.text
    # A lesson with no Arabic text is printed in French, marked as such.
    french = [s for s in page.named("section") if s.get("lang") == "fr"]
    assert all(s["dir"] == "ltr" for s in french)


def test_the_same_content_gives_the_same_bytes(booklets, exercises_app, tmp_path):
    result = export(exercises_app, tmp_path, "--language", "ar", "--language", "fr")
    assert result.exit_code == 0, result.output
    for path in booklets.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_progress_goes_to_stderr_and_the_summary_to_stdout(exercises_app, tmp_path):
    result = export(exercises_app, tmp_path, "--level", "CM1", "--subject", "mathematiques")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Wrote 1 booklet(s) into ")
    assert "[1/1] cm1-mathematiques-fr.html (1 modules)" in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == [f"{MATHS}-fr.html"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "CE9"], "No level 'CE9' in zz (levels: CM1, 7e année)."),
        (["--subject", "chimie"], "No subject 'chimie' in zz"),
        (["--language", "de"], "No language 'de'"),
        (["--trust", "trust.toml"], "--trust checks bundles: give them with --bundle."),
    ],
)
def test_a_selection_of_nothing_is_refused_and_writes_nothing(
    exercises_app, tmp_path, args, message
):
    out = tmp_path / "out"
    result = export(exercises_app, out, *args)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_an_unknown_country_is_refused(exercises_app, tmp_path):
    result = exercises_app.test_cli_runner().invoke(
        args=["export", "booklets", "--country", "qq", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "No country 'qq' on this server (countries loaded: zz)." in result.output


# ---------------------------------------------------------------------------- from the catalogue


def test_the_subject_page_offers_the_booklet_the_command_writes(exercises_app, booklets):
    client = exercises_app.test_client()
    subject = client.get("/fr/zz/cm1/sciences/").get_data(as_text=True)
    assert 'href="/fr/zz/cm1/sciences/booklet"' in subject and "Livret à imprimer" in subject

    response = client.get("/fr/zz/cm1/sciences/booklet")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.get_data() == (booklets / f"{SCIENCES}-fr.html").read_bytes()
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "img-src data:" in policy


def test_a_file_written_module_by_module_is_the_page_rendered_whole(exercises_app, booklets):
    # The command streams a booklet into its file one module at a time, encoding each image as
    # it writes; the page renders it in one piece with the images inlined: the same bytes.
    client = exercises_app.test_client()
    for path in sorted(booklets.iterdir()):
        level, subject, lang = re.fullmatch(r"(cm1|7e-annee)-(\w+)-(\w+)\.html", path.name).groups()
        response = client.get(f"/{lang}/zz/{level}/{subject}/booklet")
        assert response.get_data() == path.read_bytes(), path.name
    assert b"data:image/jpeg;base64," in (booklets / f"{MATHS}-fr.html").read_bytes()


def test_a_class_and_subject_with_no_module_has_no_booklet(exercises_app):
    client = exercises_app.test_client()
    assert client.get("/fr/zz/7e-annee/mathematiques/booklet").status_code == 404
    assert "/booklet" not in client.get("/fr/zz/7e-annee/mathematiques/").get_data(as_text=True)
