"""schema.org / LRMI metadata of module and lesson pages, as JSON-LD for search engines.

The context is written out in the document (a vocabulary, no remote context), so the data
expands to the same triples offline, on a school server that never reaches schema.org.
"""

from __future__ import annotations

from imaginecole.clock import as_utc
from imaginecole.content.models import Lesson, LessonText, Module
from imaginecole.links import competency_urn, external_url
from imaginecole.templating import licence_url

CONTEXT = {"@vocab": "https://schema.org/"}


def module_json_ld(module: Module, lang: str) -> dict:
    """Return the ``LearningResource`` describing a module, its texts in every language."""
    data = _resource(module, lang)
    data["@id"] = data["url"] = module_url(module, lang)
    data["name"] = _tagged(module.title)
    data["description"] = _tagged(module.summary)
    data["isPartOf"] = {
        "@type": "Collection",
        "@id": external_url("catalog.country", lang=lang, country=module.country_code),
        "name": module.country.shown(lang).text,
    }
    data["hasPart"] = [
        {"@id": external_url("catalog.lesson", lang=lang, uid=module.uid, slug=lesson.slug)}
        for lesson in module.lessons
    ]
    return {"@context": CONTEXT, **data}


def lesson_json_ld(module: Module, lesson: Lesson, text: LessonText, lang: str) -> dict:
    """Return the ``LearningResource`` of one lesson, part of its module."""
    data = _resource(module, lang)
    data["@id"] = data["url"] = external_url(
        "catalog.lesson", lang=lang, uid=module.uid, slug=lesson.slug
    )
    data["name"] = [
        {"@value": translation.title, "@language": translation.lang}
        for translation in lesson.translations
    ]
    data["inLanguage"] = text.lang
    data["isPartOf"] = {
        "@type": "LearningResource",
        "@id": module_url(module, lang),
        "name": _tagged(module.title),
    }
    return {"@context": CONTEXT, **data}


def module_url(module: Module, lang: str) -> str:
    return external_url("catalog.module", lang=lang, uid=module.uid)


def _resource(module: Module, lang: str) -> dict:
    country = module.country
    framework = country.framework_title.get(lang) or next(
        iter(country.framework_title.values()), country.framework_id
    )
    alignments, taught = [], []
    for link in module.competency_links:
        competency = link.competency
        term = {
            "@type": "DefinedTerm",
            "@id": competency_urn(country.code, country.framework_id, competency.code),
            "termCode": competency.code,
            "name": competency.shown(lang).text,
        }
        if link.relation == "teaches":
            taught.append(term)
        alignments.append(
            {
                "@type": "AlignmentObject",
                "alignmentType": link.relation,
                "educationalFramework": framework,
                "targetName": competency.shown(lang).text,
                "targetUrl": {"@id": term["@id"]},
            }
        )
    return {
        "@type": "LearningResource",
        "inLanguage": module.languages,
        "license": {"@id": licence_url(module.licence)},
        "learningResourceType": module.resource_type,
        "educationalLevel": [
            {
                "@type": "DefinedTerm",
                "termCode": level.code,
                "name": level.shown(lang).text,
                "inDefinedTermSet": framework,
            }
            for level in module.levels
        ],
        "about": {"@type": "Thing", "name": module.subject.shown(lang).text},
        "teaches": taught,
        "educationalAlignment": alignments,
        "isAccessibleForFree": True,
        "dateModified": as_utc(module.updated_at).isoformat(),
        "version": module.version,
        "author": [
            {"name": author.get("name", "")}
            for author in module.authors
            if author.get("role", "author") == "author"
        ],
        "contributor": [
            {"name": author.get("name", "")}
            for author in module.authors
            if author.get("role", "author") != "author"
        ],
    }


def _tagged(texts: dict[str, str]) -> list[dict[str, str]]:
    return [{"@value": text, "@language": lang} for lang, text in texts.items() if text]
