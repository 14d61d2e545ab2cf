"""Turn a plain Markdown course folder (MkDocs style) into modules of the content format.

A national team often already has its courses as a folder of Markdown pages written for an
MkDocs site. ``read_course`` reads such a folder as it is, without touching it: every folder
that holds pages becomes one module, every page one lesson. The site's own syntax (Jinja
macros and comments, attribute lists, emoji shortcodes, content tabs, a little raw HTML) is
rewritten into the Markdown dialect of content/README.md; admonitions, code, tables and maths
are kept as written. Images are checked and hashed like in ``sync.content``; anything that
cannot come through is listed in ``CourseTree.skipped`` and the page still loads.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from PIL import Image

from sync.content import MODULE_ID, OPEN_LICENCES, ContentTree, first_heading, resolve_media
from sync.media import IMAGE_TYPES, MEDIA_EXTENSIONS
from sync.model import Author, Blob, Curriculum, Lesson, LessonText, Module
from sync.problems import ProblemList
from sync.text import fold_accents, slugify

LANGUAGE = "fr"
MAX_ID_LENGTH = 100
MAX_TITLE_LENGTH = 200
SUMMARY_LENGTH = 300
NOT_PAGES = {"attribution.md", "license.md", "licence.md"}  # metadata beside the pages, not lessons


# ---------------------------------------------------------------------------- data


@dataclass
class CourseOptions:
    """What the course folder cannot say about itself."""

    country: str
    levels: list[str]
    subject: str
    licence: str = "CC-BY-SA-4.0"
    authors: list[str] = field(default_factory=list)  # empty: read from ATTRIBUTION.md
    attribution: str = ""  # empty: read from ATTRIBUTION.md
    id_prefix: str = ""  # empty: "<country>-<course folder name>"


@dataclass
class CourseTree(ContentTree):
    """Modules read from a course folder, with everything that could not come through."""

    skipped: ProblemList = field(default_factory=ProblemList)
    # (module id, lesson slug) -> the page the lesson was read from
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)


@dataclass
class _Page:
    path: Path
    stem: str
    role: int = 0  # order inside a numbered group (cours, activités, exercices, révision)


@dataclass
class _Chapter:
    folder: Path
    parts: tuple[str, ...]  # the folder's path under the pages root
    pages: list[_Page]
    group: tuple[str, int] | None = None  # (prefix, number) for a numbered group of a flat folder


@dataclass
class _Converted:
    markdown: str
    title: str
    heading: str  # the page's own "# " heading, '' when the title had to be made up
    media: dict[str, str]
    blobs: dict[str, Blob]


# ---------------------------------------------------------------------------- entry point


def read_course(directory: Path, curriculum: Curriculum, options: CourseOptions) -> CourseTree:
    """Read a Markdown course folder into modules for ``curriculum``'s country."""
    tree = CourseTree()
    directory = Path(directory).resolve()
    if not directory.is_dir():
        tree.problems.add(directory, None, "", "no such course folder")
        return tree
    course_name = directory.parent.name if directory.name == "docs" else directory.name
    prefix = _check_options(directory, course_name, curriculum, options, tree.problems)
    if prefix is None:
        return tree

    pages_root = directory / "docs" if (directory / "docs").is_dir() else directory
    chapters = _chapters(pages_root, directory)
    if not chapters:
        tree.problems.add(directory, None, "", "no Markdown page (.md) found in the course folder")
        return tree

    authors, attribution = _credits(directory, pages_root, course_name, options)
    used_ids: set[str] = set()
    named_after_folder: list[Module] = []
    for chapter in chapters:
        built = _read_chapter(
            chapter, directory, course_name, prefix, options, curriculum, tree, used_ids
        )
        if built is None:
            continue
        module, from_folder = built
        module.authors = [Author(name) for name in authors]
        module.attribution = attribution
        tree.modules.append(module)
        if from_folder:
            named_after_folder.append(module)
    if named_after_folder:
        # A folder name has lost its accents ("Representation des donnees"); the credits or
        # another page of the course may still write it properly.
        pool = [_folded(attribution)] + [
            _folded(lesson.texts[LANGUAGE].markdown)
            for module in tree.modules
            for lesson in module.lessons
        ]
        for module in named_after_folder:
            module.title = {LANGUAGE: _recover_case(module.title[LANGUAGE], pool)}
    return tree


def _check_options(
    directory: Path,
    course_name: str,
    curriculum: Curriculum,
    options: CourseOptions,
    problems: ProblemList,
) -> str | None:
    """Check the options against the curriculum; return the module id prefix, or None."""
    before = len(problems)
    if options.country != curriculum.code:
        problems.add(
            directory,
            None,
            "country",
            f'is "{options.country}" but the curriculum is that of {curriculum.code}',
        )
    known_levels = curriculum.level_codes()
    if not options.levels:
        problems.add(directory, None, "levels", "name at least one level")
    for level in options.levels:
        if level not in known_levels:
            problems.add(
                directory, None, "levels",
                f'level "{level}" is not in the curriculum of {curriculum.code} (known: {", ".join(known_levels)})',
            )  # fmt: skip
    if options.subject not in curriculum.subject_slugs():
        problems.add(
            directory, None, "subject",
            f'subject "{options.subject}" is not in the curriculum of {curriculum.code} '
            f"(known: {', '.join(curriculum.subject_slugs())})",
        )  # fmt: skip
    if options.licence not in OPEN_LICENCES:
        problems.add(
            directory, None, "licence",
            f'"{options.licence}" is not an open licence we accept (use one of {", ".join(OPEN_LICENCES)})',
        )  # fmt: skip
    prefix = (
        options.id_prefix.strip()
        or f"{curriculum.code}-{slugify(course_name, max_length=40) or 'cours'}"
    )
    if not MODULE_ID.match(prefix) or not prefix.startswith(curriculum.code + "-"):
        problems.add(
            directory, None, "id_prefix",
            f'"{prefix}" must start with "{curriculum.code}-" and use only lower-case letters, digits and hyphens',
        )  # fmt: skip
    elif len(prefix) > MAX_ID_LENGTH // 2:
        problems.add(
            directory, None, "id_prefix", f"is longer than {MAX_ID_LENGTH // 2} characters"
        )
    return prefix if len(problems) == before else None


# ---------------------------------------------------------------------------- folders and pages

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
_ROLE_NAMES = {1: "cours", 2: "activités", 3: "exercices", 4: "fiche de révision"}
_PREFIX_NAMES = {"c": "Chapitre", "ch": "Chapitre", "chap": "Chapitre", "chapitre": "Chapitre", "pr": "Projet",
                 "projet": "Projet", "tp": "TP", "ds": "DS", "td": "TD"}  # fmt: skip
_FIRST_PAGES = {"index": 0, "readme": 0, "sommaire": 0, "cours": 1}


def _chapters(pages_root: Path, course_root: Path) -> list[_Chapter]:
    """Return one chapter per folder holding pages (per numbered group in a flat folder)."""
    chapters: list[_Chapter] = []
    root = course_root.resolve()
    for folder, dirs, files in os.walk(pages_root):
        # Hidden folders (.git, .cache) are not part of the site; sorting keeps the walk stable.
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=_natural_key)
        names = sorted(
            (
                f
                for f in files
                if f.lower().endswith(".md")
                and f.lower() not in NOT_PAGES
                and not f.startswith(".")
            ),
            key=_natural_key,
        )
        folder_path = Path(folder)
        pages = []
        for name in names:
            path = folder_path / name
            # A page that is a link to a file elsewhere is not part of this course.
            if path.is_file() and root in path.resolve().parents:
                pages.append(_Page(path, path.stem))
        if not pages:
            continue
        parts = folder_path.relative_to(pages_root).parts
        chapters.extend(_split_numbered(folder_path, parts, pages))
    chapters.sort(
        key=lambda c: ([_natural_key(p) for p in c.parts], c.group is not None, _group_key(c.group))
    )
    return chapters


def _group_key(group: tuple[str, int] | None) -> tuple:
    return ("", 0) if group is None else (group[0] != "c", group[0], group[1])


def _split_numbered(folder: Path, parts: tuple[str, ...], pages: list[_Page]) -> list[_Chapter]:
    """Split a flat folder of numbered pages (c1c, c1a, c2c …) into one chapter per number."""
    groups: dict[tuple[str, int], list[_Page]] = {}
    others: list[_Page] = []
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
        return [_Chapter(folder, parts, _ordered(pages))]
    chapters = [_Chapter(folder, parts, _ordered(others))] if others else []
    for key, group in groups.items():
        group.sort(key=lambda p: (p.role, _natural_key(p.stem)))
        chapters.append(_Chapter(folder, parts, group, key))
    return chapters


def _ordered(pages: list[_Page]) -> list[_Page]:
    """Order the pages of a chapter folder: index or sommaire, cours, introductions, the rest."""

    def rank(page: _Page) -> tuple:
        name = fold_accents(page.stem).lower()
        first = _FIRST_PAGES.get(name, 2 if name.startswith("intro") else 3)
        return (first, _natural_key(page.stem))

    return sorted(pages, key=rank)


def _natural_key(text: str) -> list[tuple[int, int, str]]:
    """Sort key that puts "2_VM" before "10_orientation" and ignores case and accents."""
    folded = fold_accents(text).casefold()
    return [
        (0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk)
        for chunk in re.split(r"(\d+)", folded)
        if chunk
    ]


# ---------------------------------------------------------------------------- modules


def _read_chapter(
    chapter: _Chapter,
    course_root: Path,
    course_name: str,
    prefix: str,
    options: CourseOptions,
    curriculum: Curriculum,
    tree: CourseTree,
    used_ids: set[str],
) -> tuple[Module, bool] | None:
    """Build the module of one chapter; None when none of its pages can be used.

    The flag tells whether the title was made from a folder name rather than a heading.
    """
    lessons: list[Lesson] = []
    blobs: dict[str, Blob] = {}
    converted: list[tuple[_Page, _Converted]] = []
    slugs: set[str] = set()
    for page in chapter.pages:
        text = _read_page(page.path, tree.skipped)
        if text is None:
            continue
        result = _convert_page(text, page, chapter, course_root, tree.skipped)
        slug = _unique(slugify(page.stem) or "page", slugs, 60)
        lessons.append(
            Lesson(
                slug=slug,
                position=len(lessons) + 1,
                texts={LANGUAGE: LessonText(LANGUAGE, result.title, result.markdown, result.media)},
            )
        )
        for sha, blob in result.blobs.items():
            blobs.setdefault(sha, blob)
        converted.append((page, result))
    if not lessons:
        tree.skipped.add(
            chapter.folder,
            None,
            "chapter",
            "no page of this chapter could be used, so no module was made",
        )
        return None

    parts = list(chapter.parts) + (
        [f"{chapter.group[0]}{chapter.group[1]}"] if chapter.group else []
    )
    module_id = _module_id(prefix, parts, used_ids)
    for lesson, (page, _) in zip(lessons, converted, strict=True):
        tree.sources[(module_id, lesson.slug)] = page.path
    title, from_folder = _module_title(chapter, course_name, converted)
    module = Module(
        id=module_id,
        country=curriculum.code,
        version=1,
        language=LANGUAGE,
        levels=list(options.levels),
        subject=options.subject,
        competencies=[],
        assesses=[],
        resource_type="course",
        licence=options.licence,
        keywords=_keywords(chapter.parts, title),
        derived_from=[],
        attribution="",
        title={LANGUAGE: title},
        summary={LANGUAGE: _summary([c.markdown for _, c in converted]) or title},
        authors=[],
        lessons=lessons,
        blobs=dict(sorted(blobs.items())),
    )
    return module, from_folder


def _unique(value: str, used: set[str], max_length: int) -> str:
    """Return ``value``, or ``value-2``, ``value-3`` … the first one not in ``used``; remember it."""
    candidate, n = value, 1
    while candidate in used:
        n += 1
        suffix = f"-{n}"
        candidate = value[: max_length - len(suffix)].rstrip("-") + suffix
    used.add(candidate)
    return candidate


def _module_id(prefix: str, parts: list[str], used: set[str]) -> str:
    """Return ``<prefix>-<slug of the chapter path>``, at most MAX_ID_LENGTH characters, unique."""
    slug = slugify(" ".join(parts), max_length=500) or "accueil"
    module_id = f"{prefix}-{slug}"
    if len(module_id) > MAX_ID_LENGTH:
        # A short hash of the whole path keeps a shortened id stable and distinct.
        digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]
        module_id = module_id[: MAX_ID_LENGTH - 9].rstrip("-") + "-" + digest
    return _unique(module_id, used, MAX_ID_LENGTH)


_NUMBER_PREFIX = re.compile(
    r"^(?:(?:t|th[eè]me|chapitre|chap|partie|s[ée]quence)[-_ ]?)?\d+(?:[._-]\d+)*[._ -]+", re.I
)
_HEADING_NUMBER = re.compile(
    r"^(?:(?:th[eè]me|chapitre|partie|s[ée]quence|t)\s*\d+(?:\.\d+)*\s*[:.–—-]\s*|\d+(?:\.\d+)*[.)]?\s+)",
    re.I,
)
_GENERIC_TITLES = {
    "cours", "exercices", "exercice", "sommaire", "accueil", "index", "introduction", "activites",
    "activite", "tp", "projet", "correction", "corrections", "readme", "",
}  # fmt: skip


def _module_title(
    chapter: _Chapter, course_name: str, converted: list[tuple[_Page, _Converted]]
) -> tuple[str, bool]:
    """Title a module after its main page's heading, else after its folder name (flag True)."""
    if chapter.group is not None:
        word = _PREFIX_NAMES.get(chapter.group[0], chapter.group[0].upper())
        title = f"{word} {chapter.group[1]}"
        topic = _topic(converted, title)
        return (f"{title} – {topic}" if topic else title), False
    main = None
    for page, result in converted:
        if fold_accents(page.stem).lower() in _FIRST_PAGES:
            main = result if main is None or page.stem.lower() == "cours" else main
    if main is None and len(converted) == 1:
        main = converted[0][1]
    if main is not None and main.heading:
        title = _HEADING_NUMBER.sub("", main.heading).strip()
        if fold_accents(title).lower() not in _GENERIC_TITLES and len(title) <= 120:
            return title[0].upper() + title[1:], False
    name = chapter.parts[-1] if chapter.parts else course_name
    headings = [
        line for _, c in converted for line in c.markdown.split("\n") if line.startswith("#")
    ]
    return _recover_case(_humanise(name), [_folded(h) for h in headings]), True


def _topic(converted: list[tuple[_Page, _Converted]], name: str) -> str:
    """Return the first distinctive section heading of a numbered chapter's cours page."""
    generic = _GENERIC_TITLES | {"rappels", "prealable", "preambule"}
    for page, result in converted:
        if page.role not in (0, 1):
            continue
        for line in _outside_fences(result.markdown.split("\n")):
            match = re.match(r"^#{2,3}\s+(.+?)\s*#*\s*$", line)
            if not match:
                continue
            text = _plain(re.sub(r"^(?:\d+|[a-z])\s*[).]\s*", "", match.group(1)))
            folded = fold_accents(text).lower()
            # "projet 1.1" in project 1 says nothing new
            if text and folded not in generic and not folded.startswith(fold_accents(name).lower()):
                return text[0].upper() + text[1:]
    return ""


def _humanise(name: str) -> str:
    """Turn a folder or file name into words: "4.4_Tri_par_selection" -> "Tri par selection"."""
    stripped = _NUMBER_PREFIX.sub("", name) or name
    words = re.sub(r"(?<=[a-zà-ÿ])(?=[A-Z][a-z])", " ", stripped)  # CoursPremiere -> Cours Premiere
    words = re.sub(r"[_\s]+", " ", words).strip()
    return words[0].upper() + words[1:] if words else name


def _folded(text: str) -> tuple[str, str, list[int]]:
    """Return ``text``, its lower-case accent-free form and where each folded character came from."""
    folded: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        for piece in fold_accents(char).lower():
            folded.append(piece)
            index.append(position)
    return text, "".join(folded), index


def _recover_case(phrase: str, texts: Iterable[tuple[str, str, list[int]]]) -> str:
    """Return ``phrase`` as one of ``texts`` (see ``_folded``) writes it, accents and capitals included."""
    target = fold_accents(phrase).lower().split()
    if not target:
        return phrase
    pattern = re.compile(
        r"(?<!\w)" + r"[\s_]+".join(re.escape(word) for word in target) + r"(?!\w)"
    )
    for text, folded, index in texts:
        match = pattern.search(folded)
        if match:
            found = text[index[match.start()] : index[match.end() - 1] + 1]
            return found[0].upper() + found[1:]
    return phrase


_STOP_WORDS = {
    "de", "des", "du", "la", "le", "les", "et", "en", "un", "une", "par", "pour", "sur", "au", "aux",
    "avec", "dans", "the", "and", "of", "a", "l", "d",
}  # fmt: skip


def _keywords(parts: tuple[str, ...], title: str) -> list[str]:
    """Return the words of the chapter's folder path (of its title for a flat folder)."""
    sources = [_humanise(part) for part in parts] or [title]
    words: list[str] = []
    for source in sources:
        for word in re.split(r"[^\w]+|_", fold_accents(source).lower()):
            if (
                len(word) > 1
                and not word.isdigit()
                and word not in _STOP_WORDS
                and word not in words
            ):
                words.append(word)
    return words


# ---------------------------------------------------------------------------- credits


def _credits(
    directory: Path, pages_root: Path, course_name: str, options: CourseOptions
) -> tuple[list[str], str]:
    """Return the authors and attribution: from the options, else from ATTRIBUTION.md."""
    authors = [name.strip() for name in options.authors if name.strip()]
    attribution = options.attribution.strip()
    if not authors or not attribution:
        text = _find_attribution(directory, pages_root)
        if text:
            authors = authors or _authors_from(text)
            attribution = attribution or _quote_from(text)
    authors = authors or [course_name]
    return authors, attribution or ", ".join(authors)


def _find_attribution(directory: Path, pages_root: Path) -> str:
    """Return the text of the nearest ATTRIBUTION.md: in the course folder or up to 2 levels above."""
    for folder in dict.fromkeys([pages_root, directory, directory.parent, directory.parent.parent]):
        path = folder / "ATTRIBUTION.md"
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return ""
    return ""


_AUTHOR_LINE = re.compile(
    r"\*\*\s*(?:main\s+)?(?:authors?|auteurs?|autrices?)\s*:?\s*\*\*\s*:?\s*(.+)", re.I
)


def _authors_from(text: str) -> list[str]:
    """Read "**Author:** Name, affiliation" (or "**Main author:**") from an attribution file."""
    for line in text.split("\n"):
        match = _AUTHOR_LINE.search(line)
        if not match:
            continue
        # The name stops where its affiliation or a remark starts.
        names = re.split(r"[,(;]| — | - ", match.group(1), maxsplit=1)[0]
        found = [n.strip(" .*`") for n in re.split(r"\s+(?:and|et)\s+|\s*&\s*", names)]
        return [n for n in found if n]
    return []


def _quote_from(text: str) -> str:
    """Return the quoted attribution text (a "> …" block), preferring one introduced as such."""
    lines = text.split("\n")
    quotes: list[tuple[bool, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith(">"):
            start = i
            block = []
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                block.append(lines[i].lstrip()[1:].strip())
                i += 1
            previous = " ".join(lines[max(0, start - 2) : start]).lower()
            quotes.append(
                ("attribution" in previous or "credit" in previous, " ".join(b for b in block if b))
            )
            continue
        i += 1
    for _, quote_text in sorted(quotes, key=lambda q: not q[0]):
        if quote_text:
            return _plain(quote_text)
    return ""


# ---------------------------------------------------------------------------- pages


def _read_page(path: Path, skipped: ProblemList) -> str | None:
    """Return the text of a page, or None (and say why in ``skipped``) when it cannot be a lesson."""
    try:
        data = path.read_bytes()
    except OSError as error:
        skipped.add(path, None, "page", f"cannot be read ({error.strerror or error})")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        skipped.add(
            path, data[: error.start].count(b"\n") + 1, "page", "the page is not valid UTF-8 text"
        )
        return None
    if "\x00" in text:
        skipped.add(
            path, text[: text.index("\x00")].count("\n") + 1, "page", "the page contains a NUL byte"
        )
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        skipped.add(path, None, "page", "the page is empty")
        return None
    return text


def _convert_page(
    text: str, page: _Page, chapter: _Chapter, course_root: Path, skipped: ProblemList
) -> _Converted:
    """Rewrite one page into our dialect, resolve its media and find its title."""
    expanded, line_map = _expand_jinja(text)
    converter = _PageConverter(page.path, course_root, skipped, line_map)
    markdown = converter.convert(expanded)
    heading = _plain(_first_heading(markdown))
    title = heading or _fallback_title(markdown, page, chapter)
    title = title[:MAX_TITLE_LENGTH].rstrip()
    if not heading:
        # Every lesson shows its title as its "# " heading, like the lessons of the content format.
        markdown = f"# {title}\n\n{markdown.lstrip(chr(10))}"
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip("\n") + "\n"
    return _Converted(markdown, title, heading, converter.media, converter.blobs)


def _first_heading(markdown: str) -> str:
    """Return the text of the first "# " heading outside fenced code, or ''."""
    for line in _outside_fences(markdown.split("\n")):
        if line.startswith("# ") or line.startswith("#\t"):
            return first_heading(line)
    return ""


def _fallback_title(markdown: str, page: _Page, chapter: _Chapter) -> str:
    """Title a page that has no "# " heading."""
    stem = fold_accents(page.stem).lower()
    if chapter.group is not None:
        word = _PREFIX_NAMES.get(chapter.group[0], chapter.group[0].upper())
        role = _ROLE_NAMES.get(page.role)
        return f"{word} {chapter.group[1]} – {role}" if role else f"{word} {chapter.group[1]}"
    if stem in ("index", "readme"):
        return "Accueil"
    for line in _outside_fences(markdown.split("\n")):
        match = re.match(r"^##\s+(.+?)\s*#*\s*$", line)
        if match:
            text = _plain(re.sub(r"^(?:\d+(?:\.\d+)*|[a-z])\s*[).]\s*", "", match.group(1)))
            if text:
                return text[0].upper() + text[1:]
    return _humanise(page.stem)


# ---------------------------------------------------------------------------- Jinja macros


_JINJA_START = re.compile(r"`+|\{\{|\{#|\{%|<!--")
_MACRO_CALL = re.compile(r"\{\{-?\s*([A-Za-z_]\w*)\s*\(?")
_ID_ATTRIBUTE = re.compile(r"\{#[\w-]+\s*\}")  # "{#anchor}" after a heading is not a comment


def _expand_jinja(text: str) -> tuple[str, list[int]]:
    """Apply the site's macros and drop Jinja and HTML comments outside fenced code.

    Return the new text and, for each of its lines, the line of ``text`` it comes from, so
    what is reported later points at the page as written.
    """
    pieces: list[tuple[str, int]] = []  # (text, offset in the source where its newlines are exact)
    counters = {"exercice": 0, "question": 0}
    fences = _Fences()
    pos, end = 0, len(text)
    while pos < end:
        eol = text.find("\n", pos)
        eol = end if eol < 0 else eol
        if fences.is_code(text[pos:eol]):
            pieces.append((text[pos : eol + 1], pos))
            pos = eol + 1
            continue
        cursor = pos
        while True:
            match = _JINJA_START.search(text, cursor, eol)
            if match is None:
                pieces.append((text[cursor : eol + 1], cursor))
                pos = eol + 1
                break
            start = match.start()
            token = match.group()
            if token.startswith("`"):
                close = text.find(token, match.end(), eol)
                stop = match.end() if close < 0 else close + len(token)
                pieces.append((text[cursor:stop], cursor))
                cursor = stop
                continue
            pieces.append((text[cursor:start], cursor))
            stop, output = _jinja_at(text, start, counters)
            if stop is None:
                pieces.append((token, start))
                cursor = match.end()
                continue
            pieces.extend(output)
            cursor = stop
            if cursor > eol:  # the macro ran over several lines: go on scanning its last line
                eol = text.find("\n", cursor)
                eol = end if eol < 0 else eol
    newlines = [i for i, char in enumerate(text) if char == "\n"]
    line_map = [1]
    out = []
    for piece, offset in pieces:
        out.append(piece)
        index = piece.find("\n")
        while index >= 0:
            line_map.append(bisect.bisect_left(newlines, offset + index + 1) + 1)
            index = piece.find("\n", index + 1)
    return "".join(out), line_map


def _jinja_at(
    text: str, start: int, counters: dict[str, int]
) -> tuple[int | None, list[tuple[str, int]]]:
    """Evaluate the Jinja construct at ``start``; return where it ends and what replaces it."""
    if text.startswith("<!--", start):
        # An HTML comment is hidden on the site; shown as text here, it would reveal notes.
        close = text.find("-->", start + 4)
        return (None, []) if close < 0 else (close + 3, [])
    if text.startswith("{#", start):
        if _ID_ATTRIBUTE.match(text, start):
            return None, []
        close = text.find("#}", start + 2)
        return (None, []) if close < 0 else (close + 2, [])
    if text.startswith("{%", start):
        close = text.find("%}", start + 2)
        if close < 0:
            return None, []
        if re.match(r"\{%-?\s*raw\s*-?%\}", text[start : close + 2]):
            # A raw block shows its content as written.
            finish = re.compile(r"\{%-?\s*endraw\s*-?%\}").search(text, close + 2)
            if finish is None:
                return None, []
            return finish.end(), [(text[close + 2 : finish.start()], close + 2)]
        return close + 2, []
    call = _MACRO_CALL.match(text, start)
    if call is None:
        return None, []
    stop, strings, first_argument = _scan_macro(text, call.end())
    if stop is None:
        return None, []
    name = call.group(1)
    if name in counters:
        counters[name] += 1
        return stop, [(f"{name.capitalize()} {counters[name]}", start)]
    if name == "initexo":
        counters["exercice"] = int(first_argument) if first_argument.isdigit() else 0
        return stop, []
    if name == "correction" and first_argument == "True":
        # correction(True, "…") shows its text, like on the site; correction(False, …) hides it.
        output: list[tuple[str, int]] = []
        for value, offset in strings:
            output.extend(_unescaped_lines(value, offset))
        return stop, output
    return stop, []  # other macros draw widgets of the site (editors, terminals): nothing to keep


def _scan_macro(text: str, pos: int) -> tuple[int | None, list[tuple[str, int]], str]:
    """Find the ``}}`` that ends a macro call, skipping quoted strings.

    Return its end, the string literals met (content, offset), and the first argument as written.
    """
    strings: list[tuple[str, int]] = []
    first_argument: list[str] = []
    in_first = True  # still reading the first argument
    i = pos
    while i < len(text):
        char = text[i]
        if char in "\"'":
            j = i + 1
            while j < len(text) and text[j] != char:
                j += 2 if text[j] == "\\" else 1
            if j >= len(text):
                return None, [], ""
            strings.append((text[i + 1 : j], i + 1))
            if in_first:
                first_argument.append(text[i : j + 1])
            i = j + 1
            continue
        if text.startswith("}}", i):
            return i + 2, [s for s in strings if s[0]], "".join(first_argument).strip()
        if char == "," and in_first:
            in_first = False
        elif in_first and char != ")":
            first_argument.append(char)
        i += 1
    return None, [], ""


def _unescaped_lines(value: str, offset: int) -> list[tuple[str, int]]:
    """Split a Jinja string literal into lines with their offsets, undoing its quote escapes."""
    pieces = []
    position = offset
    for number, line in enumerate(value.split("\n")):
        if number:
            pieces.append(("\n", position - 1))
        pieces.append((re.sub(r"\\([\"'\\])", r"\1", line), position))
        position += len(line) + 1
    return pieces


# ---------------------------------------------------------------------------- Markdown rewriting


def _fence_marker(line: str) -> str:
    """Return the fence a line opens or closes ("```", "~~~~"), or ''."""
    match = re.match(r"^\s*(`{3,}|~{3,})(.*)$", line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return ""  # "```x = 1```" is inline code: a fence's info string has no backtick
    return match.group(1)


_CONTAINER = re.compile(
    r"^(?P<indent> *)(?:(?:!!!|\?\?\?\+?|===\+?)(?=\s|$)|(?P<item>[-*+]|\d{1,9}[.)])(?P<gap> +|$))"
)


class _Fences:
    """Tell, line after line, which lines are fenced code.

    A fence counts only when it is indented less than 4 spaces more than the block holding
    it (an admonition's or a list item's content), as in CommonMark: deeper, it is the text
    of an indented code block.
    """

    def __init__(self) -> None:
        # Content indentation of the open admonitions and list items, innermost last.
        self.containers: list[int] = []
        self.fence = ""
        self.context = 0

    def is_code(self, line: str) -> bool:
        """Return whether ``line`` opens, closes or sits inside fenced code."""
        expanded = line.expandtabs(4)
        stripped = expanded.lstrip()
        indent = len(expanded) - len(stripped)
        marker = _fence_marker(expanded)
        if self.fence:
            if not stripped or indent >= self.context:
                closing = marker[:1] == self.fence[:1] and len(marker) >= len(self.fence)
                if closing and not stripped[len(marker) :].strip() and indent - self.context <= 3:
                    self.fence = ""
                return True
            self.fence = ""  # the block holding the fence has ended, and the fence with it
        if not stripped:
            return False
        while self.containers and self.containers[-1] > indent:
            self.containers.pop()
        context = self.containers[-1] if self.containers else 0
        if marker and indent - context <= 3:
            self.fence, self.context = marker, context
            return True
        container = _CONTAINER.match(expanded)
        if container:
            if container["item"] is None:
                self.containers.append(indent + 4)
            else:
                gap = (
                    len(container["gap"]) if container["gap"] and len(container["gap"]) <= 4 else 1
                )
                self.containers.append(indent + len(container["item"]) + gap)
        return False


def _outside_fences(lines: list[str]) -> Iterator[str]:
    fences = _Fences()
    for line in lines:
        if not fences.is_code(line):
            yield line


EMOJI = {
    "star": "★", "heart": "♥", "warning": "⚠️", "arrow_right": "➡️", "arrow_left": "⬅️",
    "arrow_up": "⬆️", "arrow_down": "⬇️", "right_arrow": "➡️", "skull": "💀", "sunny": "☀️",
    "beach": "🏖️", "cry": "😢", "+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎",
    "white_check_mark": "✅", "heavy_check_mark": "✔️", "x": "❌", "rainbow": "🌈", "new": "🆕",
    "name_badge": "📛", "frowning": "😦", "smile": "😄", "smiley": "😃", "wink": "😉",
    "thinking": "🤔", "bulb": "💡", "pencil": "✏️", "pencil2": "✏️", "memo": "📝", "book": "📖",
    "books": "📚", "computer": "💻", "question": "❓", "exclamation": "❗", "point_right": "👉",
    "point_left": "👈", "tada": "🎉", "rocket": "🚀", "fire": "🔥", "eyes": "👀", "clock": "🕐",
    "hourglass": "⌛", "trophy": "🏆", "key": "🔑", "lock": "🔒", "mag": "🔍", "link": "🔗",
    "construction": "🚧", "no_entry": "⛔", "checkered_flag": "🏁", "muscle": "💪", "joy": "😂",
    "stop_sign": "🛑", "zap": "⚡", "gift": "🎁", "earth_africa": "🌍",
}  # fmt: skip
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
_ICON = re.compile(r":(?:octicons|material|fontawesome|simple)-([a-z0-9-]+):")
_ATTR_CANDIDATE = re.compile(r"(?<![\\$])\{([^{}\n]*)\}")
_ATTR_TOKEN = re.compile(
    r"""\s*(?:[.#][\w-]+|[\w-]+\s*=\s*(?:\\?"[^"]*?\\?"|'[^']*'|[^\s"'}]+)|[\w-]+)\s*"""
)
_ATTR_KEYS = {"width", "witdh", "height", "align", "target", "style", "class", "title", "loading", "rel", "id",
              "alt", "markdown", "lang"}  # fmt: skip
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_MATH_SPAN = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\d)")
_IMG_TAG = re.compile(r"<img\b([^>]*?)/?>", re.I)
_HTML_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(\\?"(.*?)\\?"|'(.*?)'|([^\s>]+))""")
_BREAK = "\x00"  # never in a page: pages with a NUL byte are skipped
_BR = re.compile(r"<\s*/?\s*br\s*/?\s*>", re.I)
_EMPTY_ANCHOR = re.compile(
    r"""<(a|i|span)\s+(?:id|name)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)\s*>\s*</\1\s*>""", re.I
)
_ALIGN_P = re.compile(r"""<(?:p|div)\s+align\s*=\s*(?:"[^"]*"|'[^']*'|\w+)\s*>""", re.I)
_TARGET = r"(?P<target><[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))+)(?P<title>\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?"
_IMAGE = re.compile(r"!\[(?P<alt>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*" + _TARGET + r"\s*\)")
_LINK = re.compile(r"(?<![!\\])\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*" + _TARGET + r"\s*\)")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)
_ADMONITION = re.compile(r"^(?P<indent>\s*)(?P<marker>!!!|\?\?\?\+?)(?P<rest>.*)$")
_TAB = re.compile(r'^(?P<indent>\s*)===(?P<open>\+?)\s+(?P<title>\\?".*?)\s*$')
_PAGE_SUFFIXES = {"", ".md", ".html", ".htm"}


class _PageConverter:
    """Rewrite the Markdown of one page line by line, collecting its media."""

    def __init__(self, path: Path, course_root: Path, skipped: ProblemList, line_map: list[int]):
        self.path = path
        self.course_root = course_root
        self.skipped = skipped
        self.line_map = line_map
        self.media: dict[str, str] = {}
        self.blobs: dict[str, Blob] = {}
        self.line = 1
        self.centered_paragraphs = 0

    def convert(self, text: str) -> str:
        out: list[str] = []
        fences = _Fences()
        tab_groups: set[int] = set()  # indentation of the content tabs met so far in open groups
        for number, line in enumerate(text.split("\n")):
            self.line = self.line_map[min(number, len(self.line_map) - 1)]
            if fences.is_code(line):
                out.append(line)
                continue
            if line.strip():
                indent = len(line) - len(line.lstrip())
                for level in [k for k in tab_groups if k >= indent]:
                    if not _TAB.match(line) or level > indent:
                        tab_groups.discard(level)
            converted = self.convert_line(line, tab_groups)
            if _ADMONITION.match(converted) and out and out[-1].strip():
                # Without a blank line, markdown-it reads the block as the end of the paragraph above.
                out.append("")
            out.append(converted)
        return "\n".join(out)

    def convert_line(self, line: str, tab_groups: set[int]) -> str:
        tab = _TAB.match(line)
        if tab:
            # Content tabs are not in our dialect: each becomes a folding block, the first one open.
            indent = len(tab["indent"])
            first = indent not in tab_groups
            tab_groups.add(indent)
            title = _unescape_quotes(tab["title"])
            marker = "???+" if first or tab["open"] else "???"
            return f"{tab['indent']}{marker} note {title}"
        admonition = _ADMONITION.match(line)
        if admonition:
            rest = _unescape_quotes(admonition["rest"]).rstrip()
            if not rest.strip() or rest.lstrip().startswith('"'):
                rest = " note" + (" " + rest.strip() if rest.strip() else "")
            line = f"{admonition['indent']}{admonition['marker']}{rest}"
        line = self.outside_code(line, self.rewrite_text)
        line = self.rewrite_targets(line)
        return self.line_breaks(line)

    def outside_code(self, line: str, rewrite) -> str:
        """Apply ``rewrite`` to the parts of ``line`` outside inline code."""
        parts, last = [], 0
        for match in _CODE_SPAN.finditer(line):
            parts.append(rewrite(line[last : match.start()]))
            # "#!python" in inline code only chose the highlighting on the site.
            parts.append(re.sub(r"^(`+)(\s*)#!\w+\s+", r"\1\2", match.group()))
            last = match.end()
        parts.append(rewrite(line[last:]))
        return "".join(parts)

    def rewrite_text(self, text: str) -> str:
        if not text:
            return text
        text = _IMG_TAG.sub(_img_to_markdown, text)
        text = _GIF_PLAYER.sub(self._gif_player_to_image, text)
        text = _IFRAME.sub(_iframe_to_link, text)
        text = _SUB_SUP.sub(_sub_sup_to_text, text)
        text = re.sub(r"</?\s*center\s*>", "", text, flags=re.I)
        text = _EMPTY_ANCHOR.sub("", text)
        text, count = _ALIGN_P.subn("", text)
        self.centered_paragraphs += count
        if self.centered_paragraphs and re.search(r"</(?:p|div)\s*>", text):
            text = re.sub(r"</(?:p|div)\s*>", "", text, count=1)
            self.centered_paragraphs -= 1
        text = _BR.sub(_BREAK, text)  # made a Markdown line break once code spans are put back
        text = _without_attribute_lists(text)
        return _emoji(text)

    def _gif_player_to_image(self, match: re.Match) -> str:
        """Show a site's animated-GIF player as the GIF itself, found in the course by its path.

        The player points at the published site (https://…/premiere_nsi/T4…/data/x.gif); the
        same file sits under the course folder, at some ending of that URL path.
        """
        src = _attributes(match.group(1)).get("src", "")
        parts = [p for p in urlsplit(src).path.split("/") if p]
        root = self.course_root.resolve()
        for start in range(len(parts)):
            for base in (self.path.parent, root / "docs", root):
                candidate = base.joinpath(*parts[start:])
                if parts[start:] and candidate.is_file():
                    relative = os.path.relpath(candidate, self.path.parent).replace(os.sep, "/")
                    return f"![Animation]({quote(relative)})"
        return f"![Animation]({src})" if src else ""

    def line_breaks(self, line: str) -> str:
        """Turn the line breaks ``rewrite_text`` marked into Markdown ones."""
        if _BREAK not in line:
            return line
        if not line.replace(_BREAK, "").strip():
            return ""
        if line.lstrip().startswith("|"):
            return line.replace(_BREAK, " ")  # a table row must stay on one line
        indent = line[: len(line) - len(line.lstrip())]
        head, *rest = line.split(_BREAK)
        return head.rstrip() + "".join(
            f"\\\n{indent}{part.strip()}" for part in rest if part.strip()
        )

    # -- images and links

    def rewrite_targets(self, line: str) -> str:
        line = self.substitute(_IMAGE, line, self.image)
        return self.substitute(_LINK, line, self.link)

    def substitute(self, pattern: re.Pattern, line: str, replace) -> str:
        """Replace matches of ``pattern`` that do not start in inline code or maths."""
        protected = [m.span() for m in _CODE_SPAN.finditer(line)] + [
            m.span() for m in _MATH_SPAN.finditer(line)
        ]
        out, last = [], 0
        for match in pattern.finditer(line):
            if any(start <= match.start() < stop for start, stop in protected):
                continue
            out.append(line[last : match.start()])
            out.append(replace(match))
            last = match.end()
        out.append(line[last:])
        return "".join(out)

    def image(self, match: re.Match) -> str:
        alt, target = match["alt"], match["target"].strip("<>").strip()
        name = PurePosixPath(unquote(target.split("#", 1)[0].split("?", 1)[0])).name or target
        fallback = f"*{alt.strip() or name}*"
        if target.startswith("//") or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            self.skip(
                "image",
                target,
                "an image on another website cannot be shown offline; keep a copy in the course folder",
            )
            return fallback
        if target.startswith("#"):
            return fallback
        written, reason = self.resolve(target, image=True)
        if written is None:
            self.skip("image", target, reason)
            return fallback
        return f"![{alt}]({written})"

    def link(self, match: re.Match) -> str:
        text, target = match["text"], match["target"].strip("<>").strip()
        if _EXTERNAL.match(target):
            return match.group()
        clean = unquote(target.split("#", 1)[0].split("?", 1)[0])
        suffix = PurePosixPath(clean).suffix.lower()
        if (
            not clean
            or clean.endswith("/")
            or suffix in _PAGE_SUFFIXES
            or (self.path.parent / clean).is_dir()
        ):
            return text  # a page of the site: its lesson has no address to point at yet
        if suffix not in MEDIA_EXTENSIONS:
            self.skip(
                "link",
                target,
                f"not a supported media type ({suffix}); the link was removed, its text kept",
            )
            return text
        written, reason = self.resolve(target, image=False)
        if written is None:
            self.skip("link", target, f"{reason}; the link was removed, its text kept")
            return text
        title = match["title"] or ""
        return f"[{text}]({written}{title})"

    def resolve(self, target: str, image: bool) -> tuple[str | None, str]:
        """Find the file a target names; return how to write it, or None and why it cannot be used."""
        clean = target.split("#", 1)[0].split("?", 1)[0]
        candidates = list(dict.fromkeys([clean, unquote(clean)]))
        path = None
        for candidate in candidates:
            try:
                resolved = (self.path.parent / PurePosixPath(candidate)).resolve()
            except (OSError, ValueError):
                continue
            if self.course_root not in resolved.parents:
                return None, "points outside the course folder"
            if resolved.is_file():
                path = candidate
                break
        if path is None:
            return None, "no such file"
        suffix = PurePosixPath(path).suffix.lower()
        if image and MEDIA_EXTENSIONS.get(suffix) not in IMAGE_TYPES:
            kind = (
                "SVG images are"
                if suffix == ".svg"
                else f"{suffix or 'files without an extension'} files are"
            )
            return None, f"{kind} not supported (use PNG, JPEG, GIF or WebP)"
        blob, reason = resolve_media(self.path.parent, path, self.course_root)
        if blob is None:
            return None, reason
        if blob.media_type in IMAGE_TYPES and not _readable_image(blob.path):
            return None, "the image cannot be read"
        # Percent-encoded, the target reads the same to the renderer as it is written here.
        written = quote(path, safe="/._-~")
        self.media[written] = blob.sha256
        self.blobs.setdefault(blob.sha256, blob)
        return written, ""

    def skip(self, kind: str, target: str, reason: str) -> None:
        self.skipped.add(self.path, self.line, kind, f'"{target}": {reason}')


def _readable_image(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            width, height = image.size
        return width > 0 and height > 0
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def _unescape_quotes(text: str) -> str:
    return text.replace('\\"', '"').replace("\\'", "'")


def _attributes(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): next(g for g in m.groups()[2:] if g is not None)
        for m in _HTML_ATTRIBUTE.finditer(text)
    }


_GIF_PLAYER = re.compile(r"<gif-player\b([^>]*)>(?:\s*</gif-player>)?", re.I)
_IFRAME = re.compile(r"<iframe\b([^>]*)>(?:.*?</iframe>)?", re.I)
_SUB_SUP = re.compile(r"<(sub|sup)>([^<]{1,40})</\1>", re.I)
_SUBSCRIPTS = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUPERSCRIPTS = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")


def _iframe_to_link(match: re.Match) -> str:
    """Turn an embedded page (a video, a code visualiser) into a plain link: nothing loads by itself."""
    src = _attributes(match.group(1)).get("src", "")
    if not src.startswith(("http://", "https://")):
        return ""
    host = urlsplit(src).hostname or src
    return f"[▶ {host}]({src})"


def _sub_sup_to_text(match: re.Match) -> str:
    """Write 1101<sub>2</sub> as 1101₂ (and powers as ²): raw HTML is not rendered."""
    tag, body = match.group(1).lower(), match.group(2)
    table = _SUBSCRIPTS if tag == "sub" else _SUPERSCRIPTS
    converted = body.translate(table)
    if all(ch in "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ" for ch in converted):
        return converted
    return f"_{body}" if tag == "sub" else f"^{body}"


def _img_to_markdown(match: re.Match) -> str:
    attributes = _attributes(match.group(1))
    src = attributes.get("src", "").strip()
    if not src:
        return match.group()
    alt = attributes.get("alt", "").replace("[", "(").replace("]", ")")
    return f"![{alt}]({src})"


def _without_attribute_lists(text: str) -> str:
    """Drop MkDocs attribute lists: "{: .center}", "{ width=300 }", "{:target="_blank"}"."""

    def replace(match: re.Match) -> str:
        body = match.group(1).strip()
        marked = body.startswith((":", "."))
        body = body[1:] if marked else body
        tokens = _ATTR_TOKEN.findall(body)
        if "".join(tokens).strip() != body.strip() or not body.strip() and not marked:
            return match.group()
        if not marked and not any(
            t.strip()[0] in ".#" or t.split("=")[0].strip().lower() in _ATTR_KEYS for t in tokens
        ):
            return match.group()
        return ""

    protected = [m.span() for m in _MATH_SPAN.finditer(text)]
    if not protected:
        return _ATTR_CANDIDATE.sub(replace, text)
    out, last = [], 0
    for start, stop in protected:
        out.append(_ATTR_CANDIDATE.sub(replace, text[last:start]))
        out.append(text[start:stop])
        last = stop
    out.append(_ATTR_CANDIDATE.sub(replace, text[last:]))
    return "".join(out)


def _emoji(text: str) -> str:
    """Turn emoji shortcodes into characters; leave anything else between colons alone."""

    def icon(match: re.Match) -> str:
        return "☆" if "star" in match.group(1) else ""

    text = _ICON.sub(icon, text)
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group()), text)


# ---------------------------------------------------------------------------- plain text


def _plain(text: str) -> str:
    """Return the words of a line of Markdown: no links, emphasis, code marks or tags."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"`+", "", text)
    text = re.sub(r"(?<!\w)(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", text)
    text = re.sub(r"\s+#+\s*$", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _summary(pages: list[str]) -> str:
    """Return the first paragraph of plain text of the pages, shortened at a word boundary.

    Prose at the top level comes first, then prose inside blocks, then the items of a list
    (a "sommaire" page has nothing else).
    """
    found: list[tuple[int, str]] = []
    for markdown in pages:
        block: list[str] = []
        kind = 0
        for line in [*_outside_fences(markdown.split("\n")), ""]:
            stripped = line.strip()
            listed = bool(_LIST_ITEM.match(stripped))
            if _ends_paragraph(stripped) or (block and listed != (kind == 2)):
                if block:
                    found.append((kind, (", " if kind == 2 else " ").join(block)))
                block = []
                if _ends_paragraph(stripped):
                    continue
            if not block:
                kind = 2 if listed else (1 if line.startswith(("    ", "\t")) else 0)
            block.append(_LIST_ITEM.sub("", stripped))
    candidates = [(kind, _plain(text)) for kind, text in found]
    for preference in (0, 1, 2):
        for kind, plain in candidates:
            if kind == preference and _is_prose(plain, 40 if preference < 2 else 10):
                return _shorten(plain)
    for _, plain in candidates:
        if _is_prose(plain, 10):
            return _shorten(plain)
    return ""


_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def _ends_paragraph(stripped: str) -> bool:
    return (
        not stripped
        or stripped.startswith(("#", "!!!", "???", "|", "<", "$$", "===", ">"))
        or bool(re.match(r"^!\[[^\]]*\]\([^)]*\)$", stripped))
    )


def _is_prose(text: str, minimum: int) -> bool:
    """Tell whether ``text`` reads as words, not as a rule of dashes or a lone image caption."""
    letters = sum(char.isalpha() for char in text)
    return len(text) >= minimum and letters >= len(text) / 2 and len(text.split()) >= 3


def _shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    text = unicodedata.normalize("NFC", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.–-") + "…"
