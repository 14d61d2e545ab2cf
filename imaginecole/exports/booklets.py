"""Printed booklets: one self-contained HTML document per class and subject, ready to print.

A booklet is the printed module of the catalogue (``catalog/_print_module.html``: lessons as
worksheets with their answer key) for every module of a class and subject, after a cover and a
table of contents, and followed by the licences and credits. Its images (the widest variant that
is not WebP) and its stylesheet are inside the file, so any browser prints it to PDF with no
server, and the same content always gives the same bytes.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from flask import current_app, render_template, stream_template
from flask_babel import force_locale

from imaginecole.catalog import queries
from imaginecole.catalog.exercises import printed_lessons
from imaginecole.content.models import Lesson, LessonText, Module
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.exports.selection import ExportError, choose
from imaginecole.extensions import db
from imaginecole.i18n import LANGUAGES
from imaginecole.media.models import Asset
from imaginecole.media.operations import blob_store
from imaginecole.rendering.markdown import ImageInfo
from sync.storage import BlobStore

# Where the renderer writes an image, replaced by the image itself once the HTML is sanitised
# (the sanitiser lets no data: URI through, rightly: only ours are safe).
PLACEHOLDER = "booklet-media/"
PLACEHOLDER_SRC = re.compile(r'src="booklet-media/([0-9a-f]{64})"')
# On paper a link cannot be followed: a wide image's link to its full file keeps the image only.
IMAGE_LINK = re.compile(r'<a [^>]*href="booklet-media/[0-9a-f]{64}"[^>]*>(.*?)</a>', re.S)

# The ids a lesson's exercises carry ("exercise-2") repeat from one lesson to the next.
EXERCISE_ID = re.compile(r'\bid="(exercise-\d+)')

# Bytes of an image encoded at a time: a multiple of 3, so the pieces join into one base64 text.
BASE64_BLOCK = 3 * 256 * 1024

Progress = Callable[[str], None]


@dataclass
class Booklet:
    """The modules of one class and subject, printed in one language."""

    country: Country
    level: Level
    subject: Subject
    lang: str
    modules: list[Module] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.level.slug}-{self.subject.slug}-{self.lang}.html"


def plan_booklets(
    country_code: str,
    levels: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
) -> list[Booklet]:
    """Return the booklets of a selection: each class and subject with published modules.

    The selection is that of every export (``selection.choose``); a booklet is made in each
    language asked, the country's first by default, whatever languages its lessons are in.
    """
    for lang in languages:
        if lang not in LANGUAGES:
            raise ExportError(f"No language {lang!r}: choose one of {', '.join(LANGUAGES)}.")
    selection = choose(country_code, levels, subjects)
    langs = list(dict.fromkeys(languages)) or [selection.lang]
    return [
        Booklet(selection.country, level, subject, lang, modules)
        for level, cells in selection.grid()
        for subject, modules in cells
        for lang in langs
    ]


def render_booklet(booklet: Booklet) -> str:
    """Return the booklet as one HTML document holding its stylesheet and its images.

    The catalogue's page, cached whole; files are written by ``write_booklet`` instead, which
    holds one module at a time. Run in a request in the booklet's language.
    """
    paper = PaperMedia(blob_store())
    printed = [printed_module(found.uid, booklet.lang, paper) for found in booklet.modules]
    contents = [(module, contents_entries(lessons)) for module, lessons in printed]
    html = render_template("exports/booklet.html", **_context(booklet, contents, printed))
    return paper.inline(html)


def write_booklet(booklet: Booklet, out: TextIO) -> None:
    """Write the booklet's HTML into ``out``, the same text ``render_booklet`` returns.

    Memory stays about that of one module and one image, whatever the booklet's size: the
    template is streamed, modules are rendered one at a time and let go once written, and each
    image is encoded into the file as it is read. Run in a request in the booklet's language.
    """
    paper = PaperMedia(blob_store())
    contents = []
    for found in booklet.modules:
        module, lessons = printed_module(found.uid, booklet.lang, paper, render=False)
        contents.append((found, contents_entries(lessons)))
        del lessons
        release(module)
    context = _context(booklet, contents, _printed_one_by_one(booklet, paper))
    for chunk in stream_template("exports/booklet.html", **context):
        paper.write(chunk, out)


PrintedLesson = tuple[Lesson, LessonText, str]


def printed_module(
    uid: str, lang: str, paper: PaperMedia, *, render: bool = True
) -> tuple[Module, list[PrintedLesson]]:
    """Return a module with its lessons for paper, images left as placeholders for ``paper``.

    With ``render=False`` only the lessons and their texts are read (enough for the contents).
    """
    module = queries.get_module_with_texts(uid)
    if not render:
        return module, [(lesson, lesson.text_in(lang), "") for lesson in module.lessons]
    lessons = [
        (lesson, text, own_ids(IMAGE_LINK.sub(r"\1", html), f"{module.uid}--{lesson.slug}"))
        for lesson, text, html in printed_lessons(module, lang, paper.describe, render=True)
    ]
    return module, lessons


def contents_entries(lessons: list[PrintedLesson]) -> list[tuple[str, str, str]]:
    """Return what the table of contents shows of each lesson: slug, title and language."""
    return [(lesson.slug, text.title, text.lang) for lesson, text, _html in lessons]


def release(module: Module) -> None:
    """Let go of a module's lessons and texts, which the session would otherwise keep with it.

    The modules of a booklet stay in memory (its contents and credits name them), and loading a
    module's texts fills in the very object the booklet holds.
    """
    db.session.expire(module, ["lessons"])


def _printed_one_by_one(
    booklet: Booklet, paper: PaperMedia
) -> Iterator[tuple[Module, list[PrintedLesson]]]:
    for found in booklet.modules:
        printed = printed_module(found.uid, booklet.lang, paper)
        yield printed
        release(printed[0])
        del printed


def _context(booklet: Booklet, contents: list, printed: Iterable) -> dict[str, Any]:
    return {
        "booklet": booklet,
        "country": booklet.country,
        "level": booklet.level,
        "subject": booklet.subject,
        "modules": booklet.modules,
        "contents": contents,
        "printed": printed,
        "stylesheet": (Path(current_app.static_folder) / "style.css").read_text(encoding="utf-8"),
    }


def own_ids(html: str, prefix: str) -> str:
    """Return a lesson's HTML with its exercises' ids made unique in a booklet of many lessons."""
    return EXERCISE_ID.sub(lambda found: f'id="{prefix}--{found.group(1)}', html)


def write_booklets(
    booklets: list[Booklet], out: Path, progress: Progress | None = None
) -> list[Path]:
    """Write each booklet into ``out`` (made if need be); return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number, booklet in enumerate(booklets, start=1):
        if progress:
            progress(
                f"[{number}/{len(booklets)}] {booklet.filename} ({len(booklet.modules)} modules)"
            )
        path = out / booklet.filename
        # The translations are chosen once per app context: each booklet forces its own.
        with current_app.test_request_context(f"/{booklet.lang}/"), force_locale(booklet.lang):
            _write_atomic(path, booklet)
        written.append(path)
    return written


def _write_atomic(path: Path, booklet: Booklet) -> None:
    # A booklet cut short by a full stick would print half a book: it appears whole or not at all.
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("w", encoding="utf-8", newline="") as out:
            write_booklet(booklet, out)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class PaperMedia:
    """Show a lesson's images on paper, each inside the document; sound and video cannot be.

    Sound and video are left as their description, where a reader would have pressed play.
    """

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.types: dict[str, str] = {}

    def describe(self, asset: Asset) -> ImageInfo | None:
        if not asset.is_image:
            return None
        variants = sorted(asset.variants, key=lambda variant: variant.width)
        fallback = [variant for variant in variants if variant.media_type != "image/webp"]
        chosen = fallback[-1] if fallback else asset  # animations have no variants
        self.types[chosen.sha256] = chosen.media_type
        return ImageInfo(PLACEHOLDER + chosen.sha256, chosen.width, chosen.height)

    def inline(self, html: str) -> str:
        """Return HTML with each image placeholder replaced by the image as a data: URI."""
        return PLACEHOLDER_SRC.sub(lambda found: f'src="{self._data_uri(found.group(1))}"', html)

    def write(self, html: str, out: TextIO) -> None:
        """Write HTML into ``out`` as ``inline`` would return it, encoding each image as read."""
        start = 0
        for found in PLACEHOLDER_SRC.finditer(html):
            sha256 = found.group(1)
            out.write(html[start : found.start()])
            out.write(f'src="data:{self.types[sha256]};base64,')
            with self.store.path(sha256).open("rb") as image:
                while block := image.read(BASE64_BLOCK):
                    out.write(base64.b64encode(block).decode("ascii"))
            out.write('"')
            start = found.end()
        out.write(html[start:])

    def _data_uri(self, sha256: str) -> str:
        data = base64.b64encode(self.store.path(sha256).read_bytes()).decode("ascii")
        return f"data:{self.types[sha256]};base64,{data}"
