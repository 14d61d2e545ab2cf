"""An export as one ZIM file (openZIM), the format the Kiwix readers open on phones and PCs.

The file holds the same pages as the folder export, the metadata the format requires, a
48×48 illustration and a full-text index, so the Kiwix apps list it and search it. It is
written by ``libzim``, openZIM's own library, under a temporary name beside ``out`` and
renamed when complete. ``libzim`` has wheels for Linux (x86-64, ARM 64-bit), macOS 13 and
newer, and Windows (x86-64), but none for 32-bit ARM: it is the optional extra ``zim``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from flask import current_app, g
from flask_babel import gettext as _
from jinja2 import TemplateError
from PIL import Image

from imaginecole.exports.pages import Page, Progress, export_pages
from imaginecole.exports.selection import ExportError, Selection
from sync.text import fold_accents

# Xapian keeps "l'évaporation" as one word, which a search for "évaporation" misses: the text
# it indexes has a space after each French elision. libzim folds the accents of a query and
# of the HTML it indexes itself, but not of the text given to it, so that text is folded here.
ELISION = re.compile(r"\b(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)(['\u2019])(?=\w)", re.I)
ISO_639_3 = {"fr": "fra", "en": "eng", "ar": "ara"}
TITLE_CHARS = 30  # the limits of the ZIM metadata specification
DESCRIPTION_CHARS = 80
LONG_DESCRIPTION_CHARS = 4000
ILLUSTRATION_PX = 48
INSTALL_LIBRARY = "pip install 'imaginecole[zim]'"
MISSING_LIBRARY = (
    f"Writing a ZIM file needs the libzim library: install it with {INSTALL_LIBRARY} "
    "(wheels exist for Linux x86-64 and ARM 64-bit, macOS 13 or newer and Windows x86-64)."
)


@dataclass
class ZimReport:
    entries: int
    size: int


def zim_available() -> bool:
    return importlib.util.find_spec("libzim") is not None


def libzim_writer() -> ModuleType:
    """Return libzim's writer module, or raise ExportError saying how to install it.

    libzim is imported here, when a ZIM file is written, and not with this module: every web
    worker imports this module, and one that never writes a ZIM file should not load libzim
    (4.5 MB a process).
    """
    try:
        import libzim.writer
    except ImportError:  # the optional extra is not installed
        raise ExportError(MISSING_LIBRARY, code="no_library") from None
    return libzim.writer


@cache
def item_classes(writer: ModuleType) -> tuple[type, type]:
    """Return the classes of a page and of a searched page, built on libzim's ``Item``."""

    class PageItem(writer.Item):
        def __init__(self, page: Page):
            super().__init__()
            self.page = page

        def get_path(self) -> str:
            return self.page.path

        def get_title(self) -> str:
            return self.page.title

        def get_mimetype(self) -> str:
            return self.page.mimetype

        def get_contentprovider(self):
            if self.page.file is not None:
                return writer.FileProvider(str(self.page.file))
            return writer.StringProvider(self.page.content)

        def get_hints(self) -> dict:
            # Media are already compressed: packing them again costs time for nothing.
            compress = self.page.mimetype.startswith("text/")
            return {writer.Hint.FRONT_ARTICLE: self.page.front, writer.Hint.COMPRESS: compress}

    class SearchedPageItem(PageItem):
        """A lesson or module: the full-text index gets its words (the other pages are
        indexed from their HTML by libzim, which an item without ``get_indexdata`` asks for)."""

        def get_indexdata(self):
            return Words(self.page.title, self.page.search_text)

    class Words(writer.IndexData):
        """What the full-text index holds of a lesson or module: its words, elisions apart."""

        def __init__(self, title: str, text: str):
            super().__init__()
            self.title = fold_accents(ELISION.sub(r"\1\2 ", title))
            self.text = fold_accents(ELISION.sub(r"\1\2 ", text))

        def has_indexdata(self) -> bool:
            return True

        def get_title(self) -> str:
            return self.title

        def get_content(self) -> str:
            return self.text

        def get_keywords(self) -> str:
            return ""

        def get_wordcount(self) -> int:
            return len(self.text.split())

        def get_geoposition(self):
            return None

    return PageItem, SearchedPageItem


def export_zim(selection: Selection, out: Path, progress: Progress | None = None) -> ZimReport:
    """Write every page of ``selection`` into the ZIM file ``out``; return what it holds.

    An existing ``out`` is replaced only once the new file is complete.
    """
    writer = libzim_writer()
    page_item, searched_page_item = item_classes(writer)
    out = Path(out)
    if out.is_dir():
        raise ExportError(
            f"{out} is a folder: give the name of the ZIM file to write.", code="write"
        )
    if not out.parent.is_dir():
        raise ExportError(f"The folder {out.parent} does not exist: create it first.", code="write")
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.touch()
    except OSError as error:
        raise ExportError(
            f"Cannot write in {out.parent}: {error.strerror}.", code="write"
        ) from None
    entries = 0
    try:
        partial.unlink()
        metadata = zim_metadata(selection)
        creator = writer.Creator(str(partial)).config_indexing(True, ISO_639_3[selection.lang])
        creator.config_verbose(False)
        with creator:
            creator.set_mainpath("index.html")
            creator.add_illustration(ILLUSTRATION_PX, illustration())
            for name, value in metadata.items():
                creator.add_metadata(name, value)
            for page in export_pages(selection, progress):
                item = searched_page_item(page) if page.search_text else page_item(page)
                creator.add_item(item)
                entries += 1
        os.replace(partial, out)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        if isinstance(error, (OSError, RuntimeError)) and not isinstance(error, TemplateError):
            raise ExportError(
                f"The ZIM file could not be written: {error}. Nothing was left.", code="write"
            ) from None
        raise
    return ZimReport(entries=entries, size=out.stat().st_size)


def zim_metadata(selection: Selection) -> dict[str, str]:
    """Return the ZIM metadata of ``selection``, in its language, within the format's limits."""
    lang = selection.lang
    with current_app.test_request_context(f"/{lang}/"):
        g.lang = lang
        country = selection.country.shown(lang).text
        grid = selection.grid()
        levels = [level.code for level, _cells in grid]
        subjects = list(dict.fromkeys(s.shown(lang).text for _lv, cells in grid for s, _m in cells))
        title = _shorten(f"Imaginecole {country}", TITLE_CHARS)
        description = _shorten(
            _("Lessons of %(country)s to read with no connection", country=country),
            DESCRIPTION_CHARS,
        )
        long_description = _shorten(
            _(
                "%(num)s modules of %(country)s for %(levels)s: %(subjects)s. Each lesson with its"
                " images, formulas and exercises with their answers, and the licence of each module.",
                num=len(selection.modules),
                country=country,
                levels=", ".join(levels),
                subjects=", ".join(subjects),
            ),
            LONG_DESCRIPTION_CHARS,
        )
    licences = {module.licence for module in selection.modules}
    metadata = {
        "Name": f"imaginecole_{lang}_{selection.slug}",
        "Title": title,
        "Description": description,
        "Language": ",".join(ISO_639_3[code] for code in selection.languages),
        "Creator": _shorten(f"Imaginecole · {country}", 200),
        "Publisher": "Imaginecole",
        "Date": selection.updated_at.strftime("%Y-%m-%d"),
        "Tags": ";".join(
            ["imaginecole", "education", selection.country.code, "_category:other"]
            + ["_ftindex:yes", "_pictures:yes", "_videos:no", "_details:yes"]
        ),
        "License": ", ".join(sorted(licences)),
    }
    if long_description != description:
        metadata["LongDescription"] = long_description
    return metadata


def illustration() -> bytes:
    """Return the app's icon as the 48×48 PNG the Kiwix libraries show beside the file."""
    icon = Image.open(Path(current_app.static_folder) / "favicon.ico")
    if ILLUSTRATION_PX in {size[0] for size in icon.info.get("sizes", ())}:
        icon.size = (ILLUSTRATION_PX, ILLUSTRATION_PX)  # the ICO frame of that size
    picture = icon.convert("RGBA").resize((ILLUSTRATION_PX, ILLUSTRATION_PX), Image.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
