"""Every page of an export, with relative links only, for the sinks that write them (ZIM, folder).

The pages are the catalogue as a reader sees it, with no server behind it: a home page by
level and subject, a page per subject of a level, every module and lesson, the licences and
credits, the stylesheet and the media the lessons show (the variants readers get). Lessons
are the HTML rendered at load (formulas included); a lesson with exercises is rendered as for
print, each exercise with an answer key after the lesson, since no server checks an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path, PurePosixPath

from flask import current_app, g, render_template
from flask_babel import gettext as _

from imaginecole.catalog.exercises import lesson_for_paper
from imaginecole.content.models import Lesson, LessonText, Module
from imaginecole.curriculum.models import Level, Subject
from imaginecole.exports.selection import Selection
from imaginecole.media.operations import blob_store
from imaginecole.rendering.markdown import plain_text
from sync.exercises import exercises_of
from sync.media import EXTENSION_FOR_TYPE

Progress = Callable[[int, int], None]

TYPE_FOR_EXTENSION = {extension: kind for kind, extension in EXTENSION_FOR_TYPE.items()}
HTML = "text/html"
# A content-hashed medium as the stored lesson HTML names it (src, href, poster, srcset items).
MEDIA_URL = re.compile(r'(?<=["\s,])/media/([0-9a-f]{64}(?:\.[a-z0-9]+)?)(?=["\s,])')
# An author's link to the web: its text stays, with the address to type when online.
OUTSIDE_LINK = re.compile(r'<a href="([a-z][a-z0-9+.-]*:[^"]*)"[^>]*>(.*?)</a>', re.S | re.I)
# FAT32 and Windows refuse these in names; the rest is kept short and lower case so that two
# names never differ by case alone and a whole path stays well under Windows' 260 characters.
UNSAFE_NAME = re.compile(r"[^a-z0-9._-]+")
NAME_CHARS = 60
RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in range(10)
}


@dataclass
class Page:
    """One file of an export: a page, the stylesheet or a medium (read from ``file``)."""

    path: str  # relative, "/"-separated, FAT32-safe
    title: str
    mimetype: str
    content: bytes = b""
    file: Path | None = None
    front: bool = False  # a page a reader lands on: Kiwix offers these at random and in suggestions
    search_text: str = ""  # the words a search of the folder finds this page by
    context: str = ""  # shown under the title in search results: the module of a lesson


def safe_name(text: str, used: set[str]) -> str:
    """Return a file name for ``text`` that FAT32 accepts and no name in ``used`` matches."""
    name = UNSAFE_NAME.sub("-", text.lower()).strip("-.") or "page"
    name = name[:NAME_CHARS].rstrip("-.")
    if name in RESERVED_NAMES:
        name = f"{name}-"
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}-{number}", number + 1
    used.add(candidate)
    return candidate


def relative(from_path: str, to_path: str) -> str:
    """Return the link from the page at ``from_path`` to ``to_path`` (both from the root)."""
    depth = len(PurePosixPath(from_path).parts) - 1
    return "../" * depth + to_path


class Plan:
    """Where every page of a selection goes, decided before any is rendered."""

    def __init__(self, selection: Selection):
        self.selection = selection
        self.grid = selection.grid()
        levels_used: set[str] = set()
        self.level_folders = {
            level.id: safe_name(level.slug, levels_used) for level in selection.levels
        }
        self.subject_names: dict[int, str] = {}
        subjects_used: set[str] = set()
        for subject in selection.subjects:
            self.subject_names[subject.id] = safe_name(subject.slug, subjects_used)
        modules_used = {"index", "search", "licences", "style", "media", "modules"}
        self.module_folders = {
            module.id: "modules/" + safe_name(module.uid, modules_used)
            for module in selection.modules
        }
        self.lesson_paths: dict[int, str] = {}
        for module in selection.modules:
            used = {"index"}
            for lesson in module.lessons:
                name = safe_name(f"{lesson.position:02d}-{lesson.slug}", used)
                self.lesson_paths[lesson.id] = f"{self.module_folders[module.id]}/{name}.html"

    def subject_page(self, level: Level, subject: Subject) -> str:
        return f"{self.level_folders[level.id]}/{self.subject_names[subject.id]}.html"

    def module_page(self, module: Module) -> str:
        return f"{self.module_folders[module.id]}/index.html"

    def lesson_page(self, lesson: Lesson) -> str:
        return self.lesson_paths[lesson.id]

    def count(self, with_search: bool) -> int:
        """Return how many pages ``export_pages`` renders (media and the stylesheet apart)."""
        subject_pages = sum(len(cells) for _level, cells in self.grid)
        lessons = sum(len(module.lessons) for module in self.selection.modules)
        return 2 + int(with_search) + subject_pages + len(self.selection.modules) + lessons


def export_pages(
    selection: Selection, progress: Progress | None = None, with_search: bool = False
) -> Iterator[Page]:
    """Yield every page of ``selection``, then the stylesheet, then every medium the pages show.

    Pages are rendered in the selection's language, in a fixed order; ``progress`` gets
    (files done, files in all) after each. ``with_search`` links the folder's search page
    (a ZIM has the reader's own search instead).
    """
    plan = Plan(selection)
    lang = selection.lang
    media: dict[str, str] = {}  # path in the export -> sha256 of the blob
    total = plan.count(with_search)
    done = 0

    def rendered(path: str, template: str, **context) -> bytes:
        return render_template(
            template,
            root=relative(path, ""),
            selection=selection,
            plan=plan,
            link=lambda target: relative(path, target),
            with_search=with_search,
            **context,
        ).encode("utf-8")

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    with current_app.test_request_context(f"/{lang}/"):
        g.lang = lang
        yield Page(
            "index.html",
            selection.country.shown(lang).text,
            HTML,
            rendered("index.html", "exports/home.html", grid=plan.grid),
            front=True,
        )
        step()
        for level, cells in plan.grid:
            for subject, modules in cells:
                path = plan.subject_page(level, subject)
                title = f"{level.code} · {subject.shown(lang).text}"
                content = rendered(
                    path, "exports/subject.html", level=level, subject=subject, modules=modules
                )
                yield Page(path, title, HTML, content, front=True)
                step()
        for module in selection.modules:
            for page in _module_pages(module, selection, plan, rendered, media):
                yield page
                step()
        yield Page(
            "licences.html",
            _("Licence and credits"),
            HTML,
            rendered("licences.html", "exports/licences.html"),
        )
        step()
        if with_search:
            yield Page(
                "search.html", _("Search"), HTML, rendered("search.html", "exports/search.html")
            )
            step()
        yield Page("style.css", "", "text/css", stylesheet())
        store = blob_store()
        total += len(media)
        for path, sha256 in sorted(media.items()):
            kind = TYPE_FOR_EXTENSION.get(PurePosixPath(path).suffix, "application/octet-stream")
            yield Page(path, "", kind, file=store.path(sha256))
            step()


def _module_pages(module, selection, plan, rendered, media) -> Iterator[Page]:
    lang = selection.lang
    module_path = plan.module_page(module)
    texts = [(lesson, lesson.text_in(lang)) for lesson in module.lessons]
    lessons = [(lesson, text, plan.lesson_page(lesson)) for lesson, text in texts]
    title = module.shown_title(lang).text
    yield Page(
        module_path,
        title,
        HTML,
        rendered(module_path, "exports/module.html", module=module, lessons=lessons),
        front=True,
        search_text=" ".join([title, module.shown_summary(lang).text, *module.keywords]),
    )
    for index, (_lesson, text, path) in enumerate(lessons):
        html = lesson_html(module, text, path, media)
        yield Page(
            path,
            text.title,
            HTML,
            rendered(
                path,
                "exports/lesson.html",
                module=module,
                text=text,
                html=html,
                previous=lessons[index - 1] if index > 0 else None,
                following=lessons[index + 1] if index + 1 < len(lessons) else None,
            ),
            front=True,
            search_text=f"{text.title} {unescape(plain_text(html))}",
            context=title,
        )


def lesson_html(module: Module, text: LessonText, page_path: str, media: dict[str, str]) -> str:
    """Return a lesson's HTML for an export: media linked inside it, no form, no outside link.

    ``media`` gathers the files the lesson shows (path in the export -> blob hash).
    """
    html = lesson_for_paper(module, text) if exercises_of(text.markdown) else text.html

    def local(match: re.Match) -> str:
        name = match.group(1)
        path = f"media/{name}"
        media[path] = name.split(".", 1)[0]
        return relative(page_path, path)

    html = MEDIA_URL.sub(local, html)
    return OUTSIDE_LINK.sub(
        r'<span class="outside-link">\2 <span class="code" dir="ltr">&lt;\1&gt;</span></span>', html
    )


def stylesheet() -> bytes:
    """Return the app's stylesheet followed by the few rules only exports use."""
    static = Path(current_app.static_folder)
    extra = Path(__file__).parent / "templates" / "exports" / "export.css"
    return (static / "style.css").read_bytes() + b"\n" + extra.read_bytes()
