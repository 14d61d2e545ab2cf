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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale

from imaginecole.catalog import queries
from imaginecole.catalog.exercises import printed_lessons
from imaginecole.content.models import Module
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.exports.selection import ExportError, choose
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

    Run in a request in the booklet's language (``write_booklets`` makes one).
    """
    paper = PaperMedia(blob_store())
    modules = []
    for found in booklet.modules:
        module = queries.get_module_with_texts(found.uid)
        lessons = [
            (lesson, text, own_ids(paper.inline(html), f"{module.uid}--{lesson.slug}"))
            for lesson, text, html in printed_lessons(
                module, booklet.lang, paper.describe, render=True
            )
        ]
        modules.append((module, lessons))
    stylesheet = (Path(current_app.static_folder) / "style.css").read_text(encoding="utf-8")
    return render_template(
        "exports/booklet.html",
        booklet=booklet,
        country=booklet.country,
        level=booklet.level,
        subject=booklet.subject,
        modules=modules,
        stylesheet=stylesheet,
    )


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
            html = render_booklet(booklet)
        _write_atomic(path, html.encode("utf-8"))
        written.append(path)
    return written


def _write_atomic(path: Path, data: bytes) -> None:
    # A booklet cut short by a full stick would print half a book: it appears whole or not at all.
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_bytes(data)
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
        self.inlined: dict[str, str] = {}

    def describe(self, asset: Asset) -> ImageInfo | None:
        if not asset.is_image:
            return None
        variants = sorted(asset.variants, key=lambda variant: variant.width)
        fallback = [variant for variant in variants if variant.media_type != "image/webp"]
        chosen = fallback[-1] if fallback else asset  # animations have no variants
        self.types[chosen.sha256] = chosen.media_type
        return ImageInfo(PLACEHOLDER + chosen.sha256, chosen.width, chosen.height)

    def inline(self, html: str) -> str:
        html = IMAGE_LINK.sub(r"\1", html)
        return PLACEHOLDER_SRC.sub(lambda found: f'src="{self._data_uri(found.group(1))}"', html)

    def _data_uri(self, sha256: str) -> str:
        if sha256 not in self.inlined:
            data = base64.b64encode(self.store.path(sha256).read_bytes()).decode("ascii")
            self.inlined[sha256] = f"data:{self.types[sha256]};base64,{data}"
        return self.inlined[sha256]
