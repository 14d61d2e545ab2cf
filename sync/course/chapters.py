"""Find a course's pages and group them into chapters: one per folder, or per numbered group.

A chapter becomes one module and each of its pages one lesson, in reading order: index or
sommaire first, then the course, introductions and the rest (numbers in natural order).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sync.text import fold_accents

NOT_PAGES = {"attribution.md", "license.md", "licence.md"}  # metadata beside the pages, not lessons


@dataclass
class Page:
    """A Markdown page of the course, to become one lesson."""

    path: Path
    stem: str
    role: int = 0  # order inside a numbered group (cours, activités, exercices, révision)
    introduction: bool = False  # the index page of a folder above, moved into this chapter


@dataclass
class Chapter:
    """The pages that become one module, in reading order."""

    folder: Path
    parts: tuple[str, ...]  # the folder's path under the pages root
    pages: list[Page]
    group: tuple[str, int] | None = None  # (prefix, number) for a numbered group of a flat folder


# A page named like c1a, c12e, pr3, DS01, chap2_cours: a prefix, a chapter number, a role.
_NUMBERED_PAGE = re.compile(
    r"^(?P<prefix>[^\W\d_]+)[-_ ]?(?P<number>\d+)(?:[-_ ]?(?P<role>[^\W\d_]*))?$"
)
_ROLES = {
    "": 0,
    "c": 1, "cours": 1, "lecon": 1,
    "a": 2, "act": 2, "activite": 2, "activites": 2,
    "e": 3, "ex": 3, "exo": 3, "exos": 3, "exercice": 3, "exercices": 3,
    "r": 4, "rev": 4, "revision": 4, "fiche": 4,
}  # fmt: skip
ROLE_NAMES = {1: "cours", 2: "activités", 3: "exercices", 4: "fiche de révision"}
PREFIX_NAMES = {"c": "Chapitre", "ch": "Chapitre", "chap": "Chapitre", "chapitre": "Chapitre", "pr": "Projet",
                 "projet": "Projet", "tp": "TP", "ds": "DS", "td": "TD"}  # fmt: skip
FIRST_PAGES = {"index": 0, "readme": 0, "sommaire": 0, "cours": 1}
INDEX_PAGES = {"index", "readme", "sommaire", "summary", "accueil"}


def find_chapters(pages_root: Path, course_root: Path) -> list[Chapter]:
    """Return one chapter per folder holding pages (per numbered group in a flat folder)."""
    chapters: list[Chapter] = []
    root = course_root.resolve()
    for folder, dirs, files in os.walk(pages_root):
        # Hidden folders (.git, .cache) are not part of the site; sorting keeps the walk stable.
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=natural_key)
        names = sorted(
            (
                f
                for f in files
                if f.lower().endswith(".md")
                and f.lower() not in NOT_PAGES
                and not f.startswith(".")
            ),
            key=natural_key,
        )
        folder_path = Path(folder)
        pages = []
        for name in names:
            path = folder_path / name
            # A page that is a link to a file elsewhere is not part of this course.
            if path.is_file() and root in path.resolve().parents:
                pages.append(Page(path, path.stem))
        if not pages:
            continue
        parts = folder_path.relative_to(pages_root).parts
        chapters.extend(_split_numbered(folder_path, parts, pages))
    chapters.sort(
        key=lambda c: ([natural_key(p) for p in c.parts], c.group is not None, _group_key(c.group))
    )
    return chapters


def fold_index_chapters(chapters: list[Chapter]) -> list[Chapter]:
    """Make a folder's index or summary page the introduction of the chapter below it.

    A folder holding only such a page above chapter folders (the home page of an MkDocs
    site, a theme's summary) is no chapter of its own: its page opens the first introduction
    chapter below (a folder named "intro…"), else the first chapter below, in natural order.
    """
    result = list(chapters)
    for chapter in sorted(chapters, key=lambda c: -len(c.parts)):  # deepest first
        if chapter.group is not None or not all(
            fold_accents(page.stem).lower() in INDEX_PAGES for page in chapter.pages
        ):
            continue
        depth = len(chapter.parts)
        below = [
            c
            for c in result
            if len(c.parts) > depth and c.parts[:depth] == chapter.parts and c is not chapter
        ]
        if not below:
            continue
        intro = [
            c
            for c in below
            if any(fold_accents(part).lower().startswith("intro") for part in c.parts[depth:])
        ]
        target = (intro or below)[0]
        for page in chapter.pages:
            page.introduction = True
        target.pages = chapter.pages + target.pages
        result.remove(chapter)
    return result


def _group_key(group: tuple[str, int] | None) -> tuple:
    return ("", 0) if group is None else (group[0] != "c", group[0], group[1])


def _split_numbered(folder: Path, parts: tuple[str, ...], pages: list[Page]) -> list[Chapter]:
    """Split a flat folder of numbered pages (c1c, c1a, c2c …) into one chapter per number."""
    groups: dict[tuple[str, int], list[Page]] = {}
    others: list[Page] = []
    for page in pages:
        match = _NUMBERED_PAGE.match(page.stem)
        role = fold_accents(match["role"] or "").lower() if match else ""
        if match is None or role not in _ROLES:
            others.append(page)
            continue
        page.role = _ROLES[role]
        groups.setdefault((fold_accents(match["prefix"]).lower(), int(match["number"])), []).append(
            page
        )
    # Split only when names really follow a chapter scheme: several chapters, one with
    # several pages, and most pages numbered (DS01, DS03 or activite1..3 stay together).
    numbered = sum(len(group) for group in groups.values())
    if (
        len(groups) < 2
        or max((len(g) for g in groups.values()), default=0) < 2
        or numbered * 2 < len(pages)
    ):
        for page in pages:
            page.role = 0
        return [Chapter(folder, parts, _ordered(pages))]
    chapters = [Chapter(folder, parts, _ordered(others))] if others else []
    for key, group in groups.items():
        group.sort(key=lambda p: (p.role, natural_key(p.stem)))
        chapters.append(Chapter(folder, parts, group, key))
    return chapters


def _ordered(pages: list[Page]) -> list[Page]:
    """Order the pages of a chapter folder: index or sommaire, cours, introductions, the rest."""

    def rank(page: Page) -> tuple:
        name = fold_accents(page.stem).lower()
        first = FIRST_PAGES.get(name, 2 if name.startswith("intro") else 3)
        return (first, natural_key(page.stem))

    return sorted(pages, key=rank)


def natural_key(text: str) -> list[tuple[int, int, str]]:
    """Sort key that puts "2_VM" before "10_orientation" and ignores case and accents."""
    folded = fold_accents(text).casefold()
    return [
        (0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk)
        for chunk in re.split(r"(\d+)", folded)
        if chunk
    ]


# A number before a folder or file name: "4.4_", "chapitre 2 - ", "T1_".
NUMBER_PREFIX = re.compile(
    r"^(?:(?:t|th[eè]me|chapitre|chap|partie|s[ée]quence)[-_ ]?)?\d+(?:[._-]\d+)*[._ -]+", re.I
)


def humanise(name: str) -> str:
    """Turn a folder or file name into words: "4.4_Tri_par_selection" -> "Tri par selection"."""
    stripped = NUMBER_PREFIX.sub("", name) or name
    words = re.sub(r"(?<=[a-zà-ÿ])(?=[A-Z][a-z])", " ", stripped)  # CoursPremiere -> Cours Premiere
    words = re.sub(r"[_\s]+", " ", words).strip()
    return words[0].upper() + words[1:] if words else name
