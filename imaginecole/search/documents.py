"""Turn modules into search documents (plain data, no engine here).

A module reaches the index from the database (``documents_for``) or, during a bundle import,
straight from the bundle before it is written (``from_bundle``, then ``documents_of``). Both
go through ``IndexedModule``, so the two give the same documents; anything that could differ
between them (the order rows come back from the database) is put in one order here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imaginecole.content.models import LESSON_TITLE_CHARS, Module
from imaginecole.localized import pick
from imaginecole.rendering.markdown import plain_text
from imaginecole.search.interface import Document
from sync import model as fmt

MAX_BODY_CHARS = 60_000  # a very long page is still found by its beginning; keeps the index small


@dataclass
class IndexedText:
    lang: str
    title: str
    html: str


@dataclass
class IndexedLesson:
    slug: str
    position: int
    texts: list[IndexedText]


@dataclass
class IndexedModule:
    """What the index takes of a module."""

    uid: str
    country: str
    levels: list[str]  # level slugs, in the curriculum's order
    subject: str
    resource_type: str
    fingerprint: str
    language: str
    title: dict[str, str]
    summary: dict[str, str]
    keywords: list[str]
    authors: list[str]
    attribution: str
    competencies: dict[str, dict[str, str]]  # label by code
    lessons: list[IndexedLesson]


@dataclass
class CurriculumNames:
    """A country's curriculum as modules refer to it: by level, subject and competency code."""

    levels: dict[str, tuple[int, str]]  # code -> (position, slug)
    subjects: set[str]
    competencies: dict[str, dict[str, str]]  # code -> label

    @classmethod
    def of(cls, curriculum: fmt.Curriculum) -> CurriculumNames:
        """Name things as the database will once ``curriculum`` is loaded (positions in order)."""
        return cls(
            levels={level.code: (n, level.slug) for n, level in enumerate(curriculum.levels)},
            subjects={subject.slug for subject in curriculum.subjects},
            competencies={c.code: c.label for c in curriculum.competencies},
        )


def from_database(module: Module) -> IndexedModule:
    return IndexedModule(
        uid=module.uid,
        country=module.country_code,
        levels=[level.slug for level in sorted(module.levels, key=lambda level: level.position)],
        subject=module.subject.slug,
        resource_type=module.resource_type,
        fingerprint=module.fingerprint,
        language=module.language,
        title=module.title,
        summary=module.summary,
        keywords=module.keywords,
        authors=[author.get("name", "") for author in module.authors],
        attribution=module.attribution,
        competencies={
            link.competency.code: link.competency.label for link in module.competency_links
        },
        lessons=[
            IndexedLesson(
                lesson.slug,
                lesson.position,
                [IndexedText(text.lang, text.title, text.html) for text in lesson.translations],
            )
            for lesson in module.lessons
        ],
    )


def from_bundle(
    source: fmt.Module, names: CurriculumNames, html: Callable[[str, str], str | None]
) -> IndexedModule | None:
    """Return what the database will hold of ``source`` once written, or None if not known yet.

    ``html(lesson_slug, lang)`` gives a lesson text rendered already, or None; a module with a
    text not rendered yet, or naming something ``names`` does not have, is indexed once written.
    """
    if source.subject not in names.subjects:
        return None
    try:
        levels = sorted(names.levels[code] for code in source.levels)
        competencies = {
            code: names.competencies[code] for code in [*source.competencies, *source.assesses]
        }
    except KeyError:
        return None
    lessons = []
    for lesson in source.lessons:
        texts = []
        for text in lesson.texts.values():
            rendered = html(lesson.slug, text.lang)
            if rendered is None:
                return None
            texts.append(IndexedText(text.lang, text.title[:LESSON_TITLE_CHARS], rendered))
        lessons.append(IndexedLesson(lesson.slug, lesson.position, texts))
    return IndexedModule(
        uid=source.id,
        country=source.country,
        levels=[slug for _, slug in levels],
        subject=source.subject,
        resource_type=source.resource_type,
        fingerprint=source.fingerprint(),
        language=source.language,
        title=source.title,
        summary=source.summary,
        keywords=source.keywords,
        authors=[author.name for author in source.authors],
        attribution=source.attribution,
        competencies=competencies,
        lessons=lessons,
    )


def documents_for(module: Module) -> list[Document]:
    """Return the documents of a module as the database holds it."""
    return documents_of(from_database(module))


def documents_of(module: IndexedModule) -> list[Document]:
    """Return one document per language of the module and one per lesson text.

    A module of a single lesson says what its lesson says: it gets no document of its own,
    and its lesson carries the module's summary, keywords and competencies instead.
    """
    common = dict(
        module_uid=module.uid,
        country=module.country,
        levels=[f"{module.country}:{slug}" for slug in module.levels],
        subject=module.subject,
        resource_type=module.resource_type,
        fingerprint=module.fingerprint,
    )
    authors = " ".join(module.authors)
    competencies = sorted(module.competencies.items())
    lessons = sorted(module.lessons, key=lambda lesson: lesson.position)
    documents = []
    single = len(lessons) == 1

    def module_extra(lang: str) -> str:
        labels = " ".join(pick(label, lang).text + " " + code for code, label in competencies)
        return " ".join([*module.keywords, labels, authors, module.attribution])

    for lang, title in module.title.items():
        if single:
            break
        summary = module.summary.get(lang, "")
        documents.append(
            Document(
                id=f"module:{module.uid}:{lang}",
                kind="module",
                lang=lang,
                title=title,
                module_title=title,
                body=summary,
                extra=module_extra(lang),
                **common,
            )
        )
    for lesson in lessons:
        for text in sorted(lesson.texts, key=lambda text: text.lang):
            module_title = module.title.get(text.lang) or module.title.get(module.language, "")
            documents.append(
                Document(
                    id=f"lesson:{module.uid}:{lesson.slug}:{text.lang}",
                    kind="lesson",
                    lang=text.lang,
                    lesson_slug=lesson.slug,
                    title=text.title,
                    module_title=module_title,
                    body=_body(text.html, text.title),
                    # Otherwise the module's keywords stay on the module: on every lesson they
                    # lifted near-empty pages above the ones that teach the subject.
                    extra=f"{module.summary.get(text.lang, '')} {module_extra(text.lang)}"
                    if single
                    else "",
                    **common,
                )
            )
    return documents


def _body(html: str, title: str) -> str:
    text = plain_text(html)
    # The page starts with its own title, already indexed (and boosted) as the title.
    if text.startswith(title):
        text = text[len(title) :].lstrip()
    return text[:MAX_BODY_CHARS]
