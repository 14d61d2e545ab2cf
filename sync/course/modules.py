"""Read a course folder: check the options, then build one module per chapter, with its credits."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sync.content import MODULE_ID, OPEN_LICENCES, ContentTree
from sync.course.chapters import (
    FIRST_PAGES,
    PREFIX_NAMES,
    Chapter,
    Page,
    find_chapters,
    fold_index_chapters,
    humanise,
)
from sync.course.pages import Converted, convert_page, plain_text, read_page, summary_of
from sync.markdown import outside_fences
from sync.model import Author, Blob, Curriculum, Lesson, LessonText, Module
from sync.problems import ProblemList
from sync.text import fold_accents, slugify

LANGUAGE = "fr"
MAX_ID_LENGTH = 100


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
    # Codes of the curriculum every module of the course teaches: the subject page shows the
    # course's modules together under the first one, instead of among "other modules".
    competencies: list[str] = field(default_factory=list)


@dataclass
class CourseTree(ContentTree):
    """Modules read from a course folder, with everything that could not come through."""

    skipped: ProblemList = field(default_factory=ProblemList)
    undescribed: ProblemList = field(default_factory=ProblemList)  # images with no alt text
    # (module id, lesson slug) -> the page the lesson was read from
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)


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
    chapters = fold_index_chapters(find_chapters(pages_root, directory))
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
    subject_of = {node.code: node.subject for node in curriculum.competencies}
    for code in options.competencies:
        if code not in subject_of:
            problems.add(
                directory, None, "competencies",
                f'competency "{code}" is not in the curriculum of {curriculum.code}',
            )  # fmt: skip
        elif subject_of[code] != options.subject:
            problems.add(
                directory, None, "competencies",
                f'competency "{code}" belongs to the subject "{subject_of[code]}", '
                f'not "{options.subject}"',
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


# ---------------------------------------------------------------------------- modules


def _read_chapter(
    chapter: Chapter,
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
    converted: list[tuple[Page, Converted]] = []
    slugs: set[str] = set()
    for page in chapter.pages:
        text = read_page(page.path, tree.skipped)
        if text is None:
            continue
        result = convert_page(text, page, chapter, course_root, tree.skipped, tree.undescribed)
        stem = "introduction" if page.introduction else page.stem
        slug = _unique(slugify(stem) or "page", slugs, 60)
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
        resource_type="course",
        licence=options.licence,
        keywords=_keywords(chapter.parts, title),
        competencies=list(dict.fromkeys(options.competencies)),
        title={LANGUAGE: title},
        summary={LANGUAGE: _summary(converted) or title},
        lessons=lessons,
        blobs=dict(sorted(blobs.items())),
    )
    return module, from_folder


def _summary(converted: list[tuple[Page, Converted]]) -> str:
    """Summarise the chapter's own pages; the introduction moved in from above only if alone."""
    own = [result.markdown for page, result in converted if not page.introduction]
    return summary_of(own) or summary_of([result.markdown for _, result in converted])


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


_HEADING_NUMBER = re.compile(
    r"^(?:(?:th[eè]me|chapitre|partie|s[ée]quence|t)\s*\d+(?:\.\d+)*\s*[:.–—-]\s*|\d+(?:\.\d+)*[.)]?\s+)",
    re.I,
)
_GENERIC_TITLES = {
    "cours", "exercices", "exercice", "sommaire", "accueil", "index", "introduction", "activites",
    "activite", "tp", "projet", "correction", "corrections", "readme", "",
}  # fmt: skip


def _module_title(
    chapter: Chapter, course_name: str, converted: list[tuple[Page, Converted]]
) -> tuple[str, bool]:
    """Title a module after its main page's heading, else after its folder name (flag True)."""
    if chapter.group is not None:
        word = PREFIX_NAMES.get(chapter.group[0], chapter.group[0].upper())
        title = f"{word} {chapter.group[1]}"
        topic = _topic(converted, title)
        return (f"{title} – {topic}" if topic else title), False
    # A page moved in from the folder above speaks of the whole course, not of this chapter.
    converted = [(page, result) for page, result in converted if not page.introduction]
    main = None
    for page, result in converted:
        if fold_accents(page.stem).lower() in FIRST_PAGES:
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
    return _recover_case(humanise(name), [_folded(h) for h in headings]), True


def _topic(converted: list[tuple[Page, Converted]], name: str) -> str:
    """Return the first distinctive section heading of a numbered chapter's cours page."""
    generic = _GENERIC_TITLES | {"rappels", "prealable", "preambule"}
    for page, result in converted:
        if page.role not in (0, 1):
            continue
        for line in outside_fences(result.markdown.split("\n")):
            match = re.match(r"^#{2,3}\s+(.+?)\s*#*\s*$", line)
            if not match:
                continue
            text = plain_text(re.sub(r"^(?:\d+|[a-z])\s*[).]\s*", "", match.group(1)))
            folded = fold_accents(text).lower()
            # "projet 1.1" in project 1 says nothing new
            if text and folded not in generic and not folded.startswith(fold_accents(name).lower()):
                return text[0].upper() + text[1:]
    return ""


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
    sources = [humanise(part) for part in parts] or [title]
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
    """Return the authors and the credit line: from the options, else made from ATTRIBUTION.md.

    The credit line is one sentence a reader understands ("« Work », par A et B, source,
    licence CC BY-SA 4.0."), not the file's wording: it is shown under every lesson.
    """
    authors = [name.strip() for name in options.authors if name.strip()]
    text = _find_attribution(directory, pages_root)
    authors = authors or _authors_from(text) or [course_name]
    if options.attribution.strip():
        return authors, options.attribution.strip()
    quote = _quote_from(text)
    work = re.split(r"\s+[—–-]\s+", quote, maxsplit=1)[0].strip(" .") if quote else ""
    if not work or _URL.search(work):
        work = _site_name(directory) or humanise(course_name)
    parts = [f"« {work} »", "par " + _names(authors)]
    source = _URL.search(quote) or _URL.search(text)
    if source:
        parts.append(source.group(0).rstrip(".,;:)»"))
    parts.append("licence " + licence_label(options.licence))
    return authors, ", ".join(parts) + "."


def _site_name(directory: Path) -> str:
    """Return the ``site_name`` of the course's mkdocs.yml, or ""."""
    for folder in (directory, directory.parent):
        try:
            text = (folder / "mkdocs.yml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        match = re.search(r"^site_name:\s*(.+?)\s*$", text, re.M)
        if match:
            return match[1].strip("'\"").strip()
    return ""


_URL = re.compile(r"https?://[^\s<>()`*]+")


def _names(names: list[str]) -> str:
    """Return "A", "A et B", "A, B et C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def licence_label(code: str) -> str:
    """Return the short name people write for a licence: "CC-BY-SA-4.0" -> "CC BY-SA 4.0"."""
    match = re.fullmatch(r"CC-(.+)-(\d\.\d)", code)
    if match:
        return f"CC {match[1]} {match[2]}"
    return code.replace("-", " ", 1) if re.fullmatch(r"[\w.]+-\d\.\d", code) else code


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
            return plain_text(quote_text)
    return ""
