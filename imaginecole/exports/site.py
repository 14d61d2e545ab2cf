"""An export as a folder of plain files that opens from ``file://`` in any browser.

Every link is relative and every name fits FAT32, so the folder works from a USB stick in a
staff-room PC with JavaScript off. With JavaScript on, ``search.html`` searches a small index
written beside it as a script (``search-index.js``): browsers refuse ``fetch`` on ``file://``.
The folder is written under a temporary name beside ``out`` and renamed when complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from imaginecole.exports.pages import Progress, export_pages
from imaginecole.exports.selection import ExportError, Selection

SEARCH_SCRIPT = Path(__file__).parent / "templates" / "exports" / "search.js"
# The same folding as search.js: French elisions, then accents and Arabic short vowels.
ELISION = re.compile(r"(^|[^a-z])(?:c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)['\u2019]")
MARKS = re.compile("[\u0300-\u036f\u064b-\u065f\u0670]")
WORD = re.compile("[0-9a-z\u00c0-\u024f\u0600-\u06ff]+")


@dataclass
class SiteReport:
    files: int
    size: int


def export_site(selection: Selection, out: Path, progress: Progress | None = None) -> SiteReport:
    """Write every page of ``selection`` into the new folder ``out``; return what it holds.

    ``out`` must not exist or be an empty folder. Nothing is left behind on failure.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(
            f"{out} already exists and is not an empty folder: choose a new folder, "
            "or remove that one first."
        )
    staging = _staging_folder(out)
    try:
        documents: list[list[str]] = []
        terms: dict[str, set[int]] = {}
        files = size = 0
        for page in export_pages(selection, progress, with_search=True):
            target = staging / page.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if page.file is not None:
                shutil.copyfile(page.file, target)
            else:
                target.write_bytes(page.content)
            files, size = files + 1, size + target.stat().st_size
            if page.search_text:
                for word in search_words(page.search_text):
                    terms.setdefault(word, set()).add(len(documents))
                documents.append([page.path, page.title, page.context])
        index = search_index_script(documents, terms)
        (staging / "search-index.js").write_bytes(index)
        shutil.copyfile(SEARCH_SCRIPT, staging / "search.js")
        files += 2
        size += len(index) + SEARCH_SCRIPT.stat().st_size
        _fix_times(staging, selection.updated_at.timestamp())
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"The folder could not be written: {error}. Nothing was left.") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SiteReport(files=files, size=size)


def search_words(text: str) -> set[str]:
    """Return the folded words of ``text`` that the search page finds it by."""
    folded = ELISION.sub(r"\1", text.lower())
    folded = MARKS.sub("", unicodedata.normalize("NFKD", folded))
    return {word for word in WORD.findall(folded) if len(word) > 1}


def search_index_script(documents: list[list[str]], terms: dict[str, set[int]]) -> bytes:
    """Return ``search-index.js``: the pages, and each word with the pages that hold it."""
    ordered = sorted(terms)
    index = {
        "docs": documents,
        "terms": ordered,
        "postings": [sorted(terms[word]) for word in ordered],
    }
    body = json.dumps(index, ensure_ascii=False, separators=(",", ":"))
    return f"window.IMAGINECOLE_SEARCH = {body};\n".encode()


def _staging_folder(out: Path) -> Path:
    parent = out.parent
    if not parent.is_dir():
        raise ExportError(f"The folder {parent} does not exist: create it first.")
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    except OSError as error:
        raise ExportError(f"Cannot write in {parent}: {error.strerror}.") from None


def _fix_times(folder: Path, moment: float) -> None:
    # The content's own date, not the export's: the same content copies as the same folder.
    for path in sorted(folder.rglob("*"), reverse=True):
        os.utime(path, (moment, moment))
    os.utime(folder, (moment, moment))
