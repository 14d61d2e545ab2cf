"""Turn modules from the database into search documents (plain data, no engine here)."""

from __future__ import annotations

from imaginecole.models import Module
from imaginecole.models.localized import pick
from imaginecole.rendering.markdown import plain_text
from imaginecole.search.engine import Document

MAX_BODY_CHARS = 60_000  # a very long page is still found by its beginning; keeps the index small


def documents_for(module: Module) -> list[Document]:
    """Return one document per language of the module and one per lesson text.

    A module of a single lesson says what its lesson says: it gets no document of its own,
    and its lesson carries the module's summary, keywords and competencies instead.
    """
    levels = [f"{module.country_code}:{level.slug}" for level in module.levels]
    competencies = [link.competency for link in module.competency_links]
    common = dict(
        module_uid=module.uid,
        country=module.country_code,
        levels=levels,
        subject=module.subject.slug,
        resource_type=module.resource_type,
        fingerprint=module.fingerprint,
    )
    authors = " ".join(author.get("name", "") for author in module.authors)
    documents = []
    single = len(module.lessons) == 1

    def module_extra(lang: str) -> str:
        labels = " ".join(pick(c.label, lang).text + " " + c.code for c in competencies)
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
    for lesson in module.lessons:
        for text in lesson.translations:
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
