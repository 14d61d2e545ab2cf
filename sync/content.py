"""Read and validate the content format on disk (see content/README.md).

Everything here is plain data in, plain data out: no Flask, no database. The app's services
apply what this module reads; bundle building reads the same tree on a laptop.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath

from sync.exercises import exercise_problems
from sync.markdown import first_heading, local_targets
from sync.media import MEDIA_EXTENSIONS, sniff_media_type
from sync.model import (
    Author,
    Blob,
    Competency,
    Curriculum,
    Cycle,
    Domain,
    Lesson,
    LessonText,
    Level,
    Localized,
    Module,
    ModuleInfo,
    Subject,
)
from sync.problems import ProblemList
from sync.text import slugify
from sync.tomllines import TomlLines

LANGUAGES = ("fr", "en", "ar")
RESOURCE_TYPES = ("lesson", "exercise", "activity", "assessment", "project", "reference", "course")
OPEN_LICENCES = (
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CC-BY-3.0",
    "CC-BY-SA-3.0",
    "CC-BY-2.0",
    "CC-BY-SA-2.0",
    "Etalab-2.0",
    "LO-FR-2.0",
    "MIT",
    "GFDL-1.3-or-later",
)
COUNTRY_CODE = re.compile(r"^[a-z]{2}$")
MODULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG = MODULE_ID
NODE_TYPE = re.compile(r"^[a-z][a-z-]*$")
LESSON_FILE = re.compile(
    r"^(?P<number>\d+)-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)(?:\.(?P<lang>[a-z]{2}))?\.md$"
)
MAX_MEDIA_BYTES = 200 * 1024 * 1024  # a whole-lesson video fits; anything bigger is a mistake
# Pupils pay for their data and school disks are small: the app's MAX_VIDEO_MB setting.
MAX_VIDEO_BYTES = 50 * 1024 * 1024
# A problem in an exercise has this code, then its ExerciseProblem code, so readers translate it.
EXERCISE_PROBLEM_PREFIX = "exercise."
# Files beside an audio or video file, with its name: captions and the poster of a video.
SIDECARS = (".vtt", ".jpg", ".jpeg", ".png", ".webp")


@dataclass
class ContentTree:
    curricula: dict[str, Curriculum] = field(default_factory=dict)
    modules: list[Module] = field(default_factory=list)
    problems: ProblemList = field(default_factory=ProblemList)


# ---------------------------------------------------------------------------- reading


def read_content(
    root: Path, countries: list[str] | None = None, *, max_video_bytes: int = MAX_VIDEO_BYTES
) -> ContentTree:
    """Read every country and module under ``root``, collecting all problems on the way."""
    tree = ContentTree()
    root = Path(root)
    if not root.is_dir():
        tree.problems.add(root, None, "", "no such content folder")
        return tree
    for country_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if country_dir.name.startswith((".", "_")):
            continue
        if countries and country_dir.name not in countries:
            continue
        if not COUNTRY_CODE.match(country_dir.name):
            tree.problems.add(
                country_dir, None, "", "a country folder must be a two-letter lower-case code"
            )
            continue
        curriculum = read_curriculum(country_dir / "curriculum.toml", tree.problems)
        modules_dir = country_dir / "modules"
        if curriculum is None:
            if modules_dir.is_dir():
                tree.problems.add(
                    modules_dir,
                    None,
                    "",
                    "modules not read: the curriculum of this country has problems",
                )
            continue
        tree.curricula[curriculum.code] = curriculum
        if modules_dir.is_dir():
            for module_dir in sorted(p for p in modules_dir.iterdir() if p.is_dir()):
                module = read_module(
                    module_dir, curriculum, tree.problems, max_video_bytes=max_video_bytes
                )
                if module is not None:
                    tree.modules.append(module)
    return tree


def _load_toml(path: Path, problems: ProblemList) -> tuple[dict, TomlLines] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(path, None, "", "file is missing")
        return None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        problems.add(path, line, "", "the file is not valid UTF-8 text")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"at line (\d+)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        problems.add(path, int(match.group(1)) if match else None, "", f"not valid TOML: {message}")
        return None
    except RecursionError:
        problems.add(path, None, "", "not valid TOML: it nests arrays or tables too deeply")
        return None
    return data, TomlLines(text)


class _Checker:
    """Check fields of one TOML table, recording problems with their line."""

    def __init__(self, path: Path, lines: TomlLines, problems: ProblemList):
        self.path, self.lines, self.problems = path, lines, problems
        self.failed = False

    def fail(self, where: tuple, message: str) -> None:
        self.failed = True
        field_name = ".".join(str(part) for part in where if not isinstance(part, int))
        self.problems.add(self.path, self.lines.line_of(where), field_name, message)

    def unknown_keys(self, table: dict, allowed: tuple[str, ...], where: tuple = ()) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                extra = f' (did you mean "{hint[0]}"?)' if hint else ""
                self.fail((*where, key), f"unknown field{extra}")

    def text(self, table: dict, key: str, where: tuple = (), required: bool = True) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self.fail((*where, key), "this field is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail((*where, key), "must be a non-empty text in quotes")
            return ""
        return value.strip()

    def integer(self, table: dict, key: str, where: tuple = (), minimum: int = 0) -> int:
        value = table.get(key)
        if value is None:
            self.fail((*where, key), "this field is required")
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail((*where, key), f"must be a whole number of at least {minimum}")
            return 0
        return value

    def text_list(
        self, table: dict, key: str, where: tuple = (), required: bool = False
    ) -> list[str]:
        value = table.get(key)
        if value is None:
            if required:
                self.fail((*where, key), "this field is required")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail((*where, key), 'must be a list of texts, like ["a", "b"]')
            return []
        if required and not value:
            self.fail((*where, key), "must list at least one value")
        return [v.strip() for v in value]

    def localized(
        self, table: dict, key: str, where: tuple = (), required_lang: str = "fr"
    ) -> Localized:
        value = table.get(key)
        if value is None:
            self.fail(
                (*where, key), f"this field is required, with at least a {required_lang} text"
            )
            return {}
        if not isinstance(value, dict):
            self.fail(
                (*where, key),
                f'must be a table of texts per language, like {{ {required_lang} = "…" }}',
            )
            return {}
        result: Localized = {}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                self.fail(
                    (*where, key, lang), f"unknown language (use one of {', '.join(LANGUAGES)})"
                )
            elif not isinstance(text, str) or not text.strip():
                self.fail((*where, key, lang), "must be a non-empty text in quotes")
            else:
                result[lang] = text.strip()
        if required_lang not in value:
            self.fail((*where, key), f"needs a {required_lang} text")
        return result

    def table_list(self, data: dict, key: str) -> list[dict]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail((key,), f"must be written as [[{key}]] sections")
            return []
        return value


CURRICULUM_KEYS = (
    "code",
    "languages",
    "name",
    "framework",
    "cycles",
    "levels",
    "domains",
    "subjects",
    "competencies",
)


def read_curriculum(path: Path, problems: ProblemList) -> Curriculum | None:
    """Read one country's curriculum.toml; return None when it has any problem."""
    loaded = _load_toml(path, problems)
    if loaded is None:
        return None
    data, lines = loaded
    check = _Checker(path, lines, problems)
    check.unknown_keys(data, CURRICULUM_KEYS)

    code = check.text(data, "code")
    if code and code != path.parent.name:
        check.fail(("code",), f'is "{code}" but the folder is named "{path.parent.name}"')
    languages = check.text_list(data, "languages", required=True)
    for lang in languages:
        if lang not in LANGUAGES:
            check.fail(
                ("languages",), f'"{lang}" is not a catalogue language ({", ".join(LANGUAGES)})'
            )
    name = check.localized(data, "name")

    framework = data.get("framework")
    framework_id = framework_version = ""
    framework_title: Localized = {}
    if not isinstance(framework, dict):
        check.fail(("framework",), "a [framework] section with id, version and title is required")
    else:
        check.unknown_keys(framework, ("id", "version", "title"), ("framework",))
        framework_id = check.text(framework, "id", ("framework",))
        framework_version = str(framework.get("version", "")).strip()
        if not framework_version:
            check.fail(("framework", "version"), "this field is required")
        framework_title = check.localized(framework, "title", ("framework",))

    cycles = []
    for i, entry in enumerate(check.table_list(data, "cycles")):
        where = ("cycles", i)
        check.unknown_keys(entry, ("code", "name"), where)
        cycles.append(
            Cycle(check.text(entry, "code", where), check.localized(entry, "name", where))
        )
    cycle_codes = _unique(check, [c.code for c in cycles], "cycles", "code")

    levels = []
    for i, entry in enumerate(check.table_list(data, "levels")):
        where = ("levels", i)
        check.unknown_keys(entry, ("code", "cycle", "isced", "grade", "name"), where)
        level_code = check.text(entry, "code", where)
        cycle = check.text(entry, "cycle", where)
        if cycle and cycle not in cycle_codes:
            check.fail((*where, "cycle"), f'cycle "{cycle}" is not declared in [[cycles]]')
        isced = check.integer(entry, "isced", where)
        if isced > 8:
            check.fail((*where, "isced"), "ISCED levels run from 0 to 8")
        levels.append(
            Level(
                code=level_code,
                slug=slugify(level_code),
                cycle=cycle,
                isced=isced,
                grade=check.integer(entry, "grade", where),
                name=check.localized(entry, "name", where),
            )
        )
    _unique(check, [lv.code for lv in levels], "levels", "code")
    _unique(
        check, [lv.slug for lv in levels], "levels", "code", "gives the same URL as another level"
    )
    if not levels:
        check.fail(("levels",), "at least one [[levels]] section is required")

    domains = []
    for i, entry in enumerate(check.table_list(data, "domains")):
        where = ("domains", i)
        check.unknown_keys(entry, ("slug", "name"), where)
        domains.append(Domain(_slug(check, entry, where), check.localized(entry, "name", where)))
    domain_slugs = _unique(check, [d.slug for d in domains], "domains", "slug")

    subjects = []
    for i, entry in enumerate(check.table_list(data, "subjects")):
        where = ("subjects", i)
        check.unknown_keys(entry, ("slug", "domain", "name"), where)
        domain = check.text(entry, "domain", where)
        if domain and domain not in domain_slugs:
            check.fail((*where, "domain"), f'domain "{domain}" is not declared in [[domains]]')
        subjects.append(
            Subject(_slug(check, entry, where), domain, check.localized(entry, "name", where))
        )
    subject_slugs = _unique(check, [s.slug for s in subjects], "subjects", "slug")

    level_codes = {lv.code for lv in levels}
    competencies = []
    entries = check.table_list(data, "competencies")
    for i, entry in enumerate(entries):
        where = ("competencies", i)
        check.unknown_keys(entry, ("code", "subject", "type", "parent", "levels", "label"), where)
        subject = check.text(entry, "subject", where)
        if subject and subject not in subject_slugs:
            check.fail((*where, "subject"), f'subject "{subject}" is not declared in [[subjects]]')
        node_type = check.text(entry, "type", where)
        if node_type and not NODE_TYPE.match(node_type):
            check.fail((*where, "type"), "must be one lower-case word, like competence or palier")
        node_levels = check.text_list(entry, "levels", where)
        for level_code in node_levels:
            if level_code not in level_codes:
                check.fail(
                    (*where, "levels"), f'level "{level_code}" is not declared in [[levels]]'
                )
        competencies.append(
            Competency(
                code=check.text(entry, "code", where),
                subject=subject,
                type=node_type,
                label=check.localized(entry, "label", where),
                parent=check.text(entry, "parent", where, required=False) or None,
                levels=node_levels,
            )
        )
    _unique(check, [c.code for c in competencies], "competencies", "code")
    by_code = {c.code: c for c in competencies}
    for i, node in enumerate(competencies):
        if node.parent is None:
            continue
        parent = by_code.get(node.parent)
        if parent is None:
            check.fail(("competencies", i, "parent"), f'no competency has the code "{node.parent}"')
        elif parent.subject != node.subject:
            check.fail(("competencies", i, "parent"), f'"{node.parent}" belongs to another subject')
        elif _has_cycle(node, by_code):
            check.fail(("competencies", i, "parent"), "the parents form a loop")

    if check.failed:
        return None
    return Curriculum(
        code=code,
        languages=languages,
        name=name,
        framework_id=framework_id,
        framework_version=framework_version,
        framework_title=framework_title,
        cycles=cycles,
        levels=levels,
        domains=domains,
        subjects=subjects,
        competencies=competencies,
    )


def _slug(check: _Checker, entry: dict, where: tuple) -> str:
    slug = check.text(entry, "slug", where)
    if slug and not SLUG.match(slug):
        check.fail((*where, "slug"), "use only lower-case letters, digits and hyphens")
    return slug


def _unique(
    check: _Checker, values: list[str], section: str, key: str, message: str = ""
) -> set[str]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value and value in seen:
            check.fail((section, i, key), message or f'"{value}" is declared twice')
        seen.add(value)
    return seen


def _has_cycle(node: Competency, by_code: dict[str, Competency]) -> bool:
    seen = {node.code}
    current = node
    while current.parent:
        if current.parent in seen:
            return True
        seen.add(current.parent)
        parent = by_code.get(current.parent)
        if parent is None:
            return False
        current = parent
    return False


# A module's folder says which country it belongs to.
MODULE_KEYS = tuple(f.name for f in fields(ModuleInfo) if f.name != "country")


def read_module(
    module_dir: Path,
    curriculum: Curriculum,
    problems: ProblemList,
    *,
    max_video_bytes: int = MAX_VIDEO_BYTES,
) -> Module | None:
    """Read one module folder; return None when it has any problem."""
    path = module_dir / "module.toml"
    before = len(problems)
    loaded = _load_toml(path, problems)
    if loaded is None:
        return None
    data, lines = loaded
    check = _Checker(path, lines, problems)
    check.unknown_keys(data, MODULE_KEYS)

    module_id = check.text(data, "id")
    if module_id:
        if not MODULE_ID.match(module_id):
            check.fail(("id",), "use only lower-case letters, digits and hyphens")
        elif module_id != module_dir.name:
            check.fail(("id",), f'is "{module_id}" but the folder is named "{module_dir.name}"')
        elif not module_id.startswith(curriculum.code + "-"):
            check.fail(("id",), f'must start with the country code, like "{curriculum.code}-…"')
    version = check.integer(data, "version", minimum=1)
    language = check.text(data, "language")
    if language and language not in LANGUAGES:
        check.fail(("language",), f"must be one of {', '.join(LANGUAGES)}")
        language = ""

    levels = check.text_list(data, "levels", required=True)
    known_levels = curriculum.level_codes()
    for level_code in levels:
        if level_code not in known_levels:
            check.fail(
                ("levels",),
                f'level "{level_code}" is not in the curriculum of {curriculum.code} '
                f"(known: {', '.join(known_levels)})",
            )
    subject = check.text(data, "subject")
    if subject and subject not in curriculum.subject_slugs():
        check.fail(
            ("subject",),
            f'subject "{subject}" is not in the curriculum of {curriculum.code} '
            f"(known: {', '.join(curriculum.subject_slugs())})",
        )
    known_competencies = set(curriculum.competency_codes())
    competencies = check.text_list(data, "competencies")
    assesses = check.text_list(data, "assesses")
    for key, codes in (("competencies", competencies), ("assesses", assesses)):
        for code in codes:
            if code not in known_competencies:
                hint = difflib.get_close_matches(code, known_competencies, n=1)
                extra = f' (did you mean "{hint[0]}"?)' if hint else ""
                check.fail((key,), f'competency "{code}" is not in the curriculum{extra}')

    resource_type = check.text(data, "resource_type")
    if resource_type and resource_type not in RESOURCE_TYPES:
        check.fail(("resource_type",), f"must be one of {', '.join(RESOURCE_TYPES)}")
    licence = check.text(data, "licence")
    if licence and licence not in OPEN_LICENCES:
        hint = difflib.get_close_matches(licence, OPEN_LICENCES, n=1)
        extra = f' (did you mean "{hint[0]}"?)' if hint else ""
        check.fail(("licence",), f"is not an open licence we accept{extra}; see content/README.md")

    main_lang = language or "fr"
    title = check.localized(data, "title", required_lang=main_lang)
    summary = check.localized(data, "summary", required_lang=main_lang)

    authors = []
    for i, entry in enumerate(check.table_list(data, "authors")):
        check.unknown_keys(entry, ("name", "role"), ("authors", i))
        authors.append(
            Author(
                name=check.text(entry, "name", ("authors", i)),
                role=check.text(entry, "role", ("authors", i), required=False) or "author",
            )
        )
    if not authors:
        check.fail(("authors",), "name at least one author in an [[authors]] section")
    attribution = check.text(data, "attribution", required=False) or ", ".join(
        a.name for a in authors
    )

    blobs: dict[str, Blob] = {}
    lessons = _read_lessons(module_dir, main_lang, blobs, problems, max_video_bytes)

    if len(problems) > before:
        return None
    return Module(
        id=module_id,
        country=curriculum.code,
        version=version,
        language=language,
        levels=levels,
        subject=subject,
        competencies=competencies,
        assesses=assesses,
        resource_type=resource_type,
        licence=licence,
        keywords=check.text_list(data, "keywords"),
        derived_from=check.text_list(data, "derived_from"),
        attribution=attribution,
        title=title,
        summary=summary,
        authors=authors,
        lessons=lessons,
        blobs=blobs,
    )


def _read_lessons(
    module_dir: Path,
    main_lang: str,
    blobs: dict[str, Blob],
    problems: ProblemList,
    max_video_bytes: int = MAX_VIDEO_BYTES,
) -> list[Lesson]:
    by_number: dict[int, Lesson] = {}
    originals: dict[
        int, str
    ] = {}  # number -> slug, valid or not, so translations find their original
    translations: list[tuple[Path, int, str, str]] = []
    for path in sorted(module_dir.glob("*.md")):
        match = LESSON_FILE.match(path.name)
        if not match:
            problems.add(
                path,
                None,
                "file name",
                'a lesson file is named like "01-my-lesson.md" or "01-my-lesson.en.md"',
            )
            continue
        number, slug, lang = int(match["number"]), match["slug"], match["lang"] or main_lang
        if lang not in LANGUAGES:
            problems.add(
                path,
                None,
                "file name",
                f'"{lang}" is not a catalogue language ({", ".join(LANGUAGES)})',
            )
            continue
        if lang != main_lang:
            translations.append((path, number, slug, lang))
            continue
        if number in originals:
            problems.add(
                path, None, "file name", f"another lesson already has the number {number:02d}"
            )
            continue
        originals[number] = slug
        text = read_lesson_text(path, lang, module_dir, blobs, problems, max_video_bytes)
        if text is not None:
            by_number[number] = Lesson(slug=slug, position=number, texts={lang: text})
    for path, number, slug, lang in translations:
        if originals.get(number) != slug:
            problems.add(
                path,
                None,
                "file name",
                f"a translation needs the original lesson {number:02d}-{slug}.md",
            )
            continue
        text = read_lesson_text(path, lang, module_dir, blobs, problems, max_video_bytes)
        if text is not None and number in by_number:
            by_number[number].texts[lang] = text
    if not originals:
        problems.add(
            module_dir,
            None,
            "lessons",
            'the module has no lesson (files named like "01-my-lesson.md")',
        )
    return [by_number[n] for n in sorted(by_number)]


def read_lesson_text(
    path: Path,
    lang: str,
    base_dir: Path,
    blobs: dict[str, Blob],
    problems: ProblemList,
    max_video_bytes: int = MAX_VIDEO_BYTES,
) -> LessonText | None:
    """Read one lesson file, resolve its local media inside ``base_dir`` and find its title.

    Captions (``.vtt``) and a poster image beside an audio or video file, with its name, are
    taken with it; the exercises are checked.
    """
    try:
        markdown = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        problems.add(path, line, "", "the file is not valid UTF-8 text")
        return None
    if "\x00" in markdown:
        problems.add(
            path,
            markdown[: markdown.index("\x00")].count("\n") + 1,
            "",
            "the file contains a NUL byte",
        )
        return None
    markdown = markdown.removeprefix("\ufeff").replace("\r\n", "\n")
    title = first_heading(markdown)
    if not title:
        problems.add(path, 1, "title", 'the lesson has no "# " heading to give its title')
        return None
    media: dict[str, str] = {}
    ok = True
    for problem in exercise_problems(markdown):
        problems.add(
            path,
            problem.line,
            "exercise",
            problem.message,
            EXERCISE_PROBLEM_PREFIX + problem.code,
            problem.values,
        )
        ok = False
    for target, line in local_targets(markdown):
        blob, reason = resolve_media(path.parent, target, base_dir)
        if blob is None:
            problems.add(path, line, "media", f'"{target}": {reason}')
            ok = False
            continue
        if blob.media_type.startswith("video/") and blob.size > max_video_bytes:
            problems.add(
                path,
                line,
                "media",
                f'"{target}" is a video of {blob.size / 1048576:.1f} MB; videos may be at most '
                f"{max_video_bytes / 1048576:g} MB (setting IMAGINECOLE_MAX_VIDEO_MB), because "
                "pupils pay for their data and school servers have small disks: make it shorter "
                "or smaller (480 pixels high is enough on a phone)",
            )
            ok = False
            continue
        blobs.setdefault(blob.sha256, blob)
        media[target] = blob.sha256
        if blob.media_type.startswith(("audio/", "video/")):
            for sidecar in sidecar_targets(target):
                found, _ = resolve_media(path.parent, sidecar, base_dir)
                if found is not None:
                    blobs.setdefault(found.sha256, found)
                    media[sidecar] = found.sha256
    return LessonText(lang=lang, title=title, markdown=markdown, media=media) if ok else None


# ---------------------------------------------------------------------------- media


def sidecar_targets(target: str) -> list[str]:
    """Return the links of the files that may sit beside an audio or video file."""
    stem = target.rsplit(".", 1)[0] if "." in target.rsplit("/", 1)[-1] else target
    return [stem + suffix for suffix in SIDECARS]


def resolve_media(page_dir: Path, target: str, base_dir: Path) -> tuple[Blob | None, str]:
    """Find the file a page links to; return (blob, '') or (None, why it cannot be used)."""
    clean = target.split("#", 1)[0].split("?", 1)[0]
    if not clean:
        return None, "empty link"
    if "\\" in clean or re.match(r"^[A-Za-z]:", clean):
        return None, "use forward slashes and relative paths"
    path = (page_dir / PurePosixPath(clean)).resolve()
    base = base_dir.resolve()
    if base not in path.parents:
        return None, "points outside the module folder"
    if not path.is_file():
        return None, "no such file"
    suffix = path.suffix.lower()
    if suffix == ".md":
        return None, "links between lessons are not supported; refer to the lesson by its title"
    if suffix not in MEDIA_EXTENSIONS:
        return (
            None,
            f"{suffix or 'files without an extension'} files are not supported (use {', '.join(sorted(MEDIA_EXTENSIONS))})",
        )
    size = path.stat().st_size
    if size > MAX_MEDIA_BYTES:
        return None, f"the file is larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB"
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        head = stream.read(64)
        digest.update(head)
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    media_type = sniff_media_type(head)
    if media_type is None or media_type != MEDIA_EXTENSIONS[suffix]:
        return None, f"the content is not a {suffix[1:].upper()} file"
    return Blob(
        sha256=digest.hexdigest(), size=size, media_type=media_type, name=path.name, path=path
    ), ""
