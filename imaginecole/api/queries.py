"""Reads behind the JSON API: published content only, in plain dicts ready for JSON."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from imaginecole.clock import as_utc
from imaginecole.config import LANGUAGES
from imaginecole.content.models import Lesson, LessonText, Module, ModuleCompetency, module_levels
from imaginecole.curriculum.models import Competency, Country, Level, Subject
from imaginecole.extensions import db
from imaginecole.links import absolute, competency_urn, external_url
from imaginecole.media.models import Asset
from imaginecole.media.operations import media_url
from imaginecole.templating import LICENCES, licence_url


@dataclass(frozen=True)
class ModuleFilter:
    country: str = ""
    level: str = ""  # slug, with country
    subject: str = ""  # slug, with country
    language: str = ""
    resource_type: str = ""


def countries() -> list[dict]:
    counts = dict(
        db.session.execute(
            select(Module.country_code, func.count(Module.id))
            .where(Module.published.is_(True))
            .group_by(Module.country_code)
        ).all()
    )
    return [
        _country(country, counts.get(country.code, 0))
        for country in db.session.scalars(select(Country).order_by(Country.code))
    ]


def country(code: str) -> dict | None:
    found = db.session.get(Country, code)
    if found is None:
        return None
    count = db.session.scalar(
        select(func.count(Module.id)).where(Module.country_code == code, Module.published.is_(True))
    )
    return _country(found, count)


def _country(country: Country, module_count: int) -> dict:
    return {
        "code": country.code,
        "name": dict(country.name),
        "languages": list(country.languages),
        "framework": _framework(country),
        "module_count": module_count,
        "links": {
            "curriculum": external_url("api.curriculum", code=country.code),
            "modules": external_url("api.modules", country=country.code),
            "page": external_url("catalog.country", lang="fr", country=country.code),
        },
    }


def _framework(country: Country) -> dict:
    return {
        "id": country.framework_id,
        "version": country.framework_version,
        "title": dict(country.framework_title),
    }


def curriculum(code: str) -> dict | None:
    """Return a country's curriculum: cycles, levels, domains, subjects and competencies."""
    country = db.session.scalar(
        select(Country)
        .filter_by(code=code)
        .options(
            selectinload(Country.cycles),
            selectinload(Country.levels).selectinload(Level.cycle),
            selectinload(Country.domains),
            selectinload(Country.subjects).selectinload(Subject.domain),
        )
    )
    if country is None:
        return None
    competencies = db.session.scalars(
        select(Competency)
        .filter_by(country_code=code)
        .options(
            selectinload(Competency.subject),
            selectinload(Competency.parent),
            selectinload(Competency.levels),
        )
        .order_by(Competency.subject_id, Competency.position, Competency.id)
    ).all()
    return {
        "country": country.code,
        "framework": _framework(country),
        "cycles": [{"code": c.code, "name": dict(c.name)} for c in country.cycles],
        "levels": [
            {
                "code": level.code,
                "slug": level.slug,
                "cycle": level.cycle.code,
                "isced": level.isced,
                "grade": level.grade,
                "name": dict(level.name),
            }
            for level in country.levels
        ],
        "domains": [{"slug": d.slug, "name": dict(d.name)} for d in country.domains],
        "subjects": [
            {"slug": s.slug, "domain": s.domain.slug, "name": dict(s.name)}
            for s in country.subjects
        ],
        "competencies": [
            {
                "code": c.code,
                "uri": competency_urn(code, country.framework_id, c.code),
                "type": c.type,
                "label": dict(c.label),
                "subject": c.subject.slug,
                "parent": c.parent.code if c.parent is not None else None,
                "levels": [level.slug for level in c.levels],
            }
            for c in competencies
        ],
    }


def module_page(selection: ModuleFilter, page: int, per_page: int) -> tuple[int, list[dict]]:
    """Return the number of published modules the filter keeps and one page of them."""
    statement = select(Module).where(Module.published.is_(True))
    if selection.country:
        statement = statement.where(Module.country_code == selection.country)
    if selection.level:
        statement = statement.where(
            Module.id.in_(
                select(module_levels.c.module_id)
                .join(Level, Level.id == module_levels.c.level_id)
                .where(Level.slug == selection.level, Level.country_code == selection.country)
            )
        )
    if selection.subject:
        statement = statement.where(
            Module.subject_id.in_(
                select(Subject.id).where(
                    Subject.slug == selection.subject, Subject.country_code == selection.country
                )
            )
        )
    if selection.language:
        statement = statement.where(Module.language == selection.language)
    if selection.resource_type:
        statement = statement.where(Module.resource_type == selection.resource_type)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = db.session.scalars(
        statement.options(selectinload(Module.levels), selectinload(Module.subject))
        .order_by(Module.uid)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return total, [_summary(module) for module in rows]


def _summary(module: Module) -> dict:
    return {
        "id": module.uid,
        "version": module.version,
        "country": module.country_code,
        "language": module.language,
        "title": dict(module.title),
        "summary": dict(module.summary),
        "levels": [level.slug for level in module.levels],
        "subject": module.subject.slug,
        "resource_type": module.resource_type,
        "licence": _licence(module.licence),
        "authors": [_author(a) for a in module.authors],
        "updated": as_utc(module.updated_at).isoformat(),
        "links": {
            "self": external_url("api.module", uid=module.uid),
            "page": external_url("catalog.module", lang=_page_lang(module), uid=module.uid),
        },
    }


def module(uid: str) -> dict | None:
    """Return a published module whole: licence, authors, curriculum, lessons and media."""
    found = db.session.scalar(
        select(Module)
        .filter_by(uid=uid, published=True)
        .options(
            selectinload(Module.levels),
            selectinload(Module.subject),
            selectinload(Module.country),
            selectinload(Module.assets),
            selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
            selectinload(Module.lessons)
            .selectinload(Lesson.translations)
            .load_only(LessonText.id, LessonText.lesson_id, LessonText.lang, LessonText.title),
        )
    )
    if found is None:
        return None
    data = _summary(found)
    country = found.country
    data.update(
        {
            "languages": found.languages,
            "keywords": list(found.keywords),
            "attribution": found.attribution,
            "derived_from": list(found.derived_from),
            "competencies": [
                {
                    "code": link.competency.code,
                    "uri": competency_urn(country.code, country.framework_id, link.competency.code),
                    "relation": link.relation,
                    "label": dict(link.competency.label),
                }
                for link in found.competency_links
            ],
            "lessons": [
                {
                    "slug": lesson.slug,
                    "position": lesson.position,
                    "title": {text.lang: text.title for text in lesson.translations},
                    "links": {
                        "self": external_url("api.lesson", uid=found.uid, slug=lesson.slug),
                        "page": external_url(
                            "catalog.lesson",
                            lang=_page_lang(found),
                            uid=found.uid,
                            slug=lesson.slug,
                        ),
                    },
                }
                for lesson in found.lessons
            ],
            "media": [_asset(asset) for asset in sorted(found.assets, key=lambda a: a.sha256)],
        }
    )
    return data


def lesson(uid: str, slug: str, lang: str) -> dict | None:
    """Return a lesson of a published module in ``lang``, else in the module's own language."""
    found = db.session.scalar(
        select(Lesson)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.uid == uid, Module.published.is_(True), Lesson.slug == slug)
        .options(selectinload(Lesson.translations), selectinload(Lesson.module))
    )
    if found is None:
        return None
    text = found.text_in(lang)
    return {
        "module": uid,
        "slug": found.slug,
        "position": found.position,
        "language": text.lang,
        "languages": sorted(found.texts),
        "title": text.title,
        "html": text.html,
        "licence": _licence(found.module.licence),
        "links": {
            "module": external_url("api.module", uid=uid),
            "page": external_url(
                "catalog.lesson", lang=_page_lang(found.module), uid=uid, slug=slug
            ),
        },
    }


def module_details(uids: list[str]) -> dict[str, dict]:
    """Return the licence and authors of published modules, by id (for search results)."""
    rows = db.session.execute(
        select(Module.uid, Module.licence, Module.authors).where(
            Module.uid.in_(uids), Module.published.is_(True)
        )
    ).all()
    return {
        uid: {"licence": _licence(licence), "authors": [_author(a) for a in authors]}
        for uid, licence, authors in rows
    }


def _licence(code: str) -> dict:
    return {"id": code, "name": dict(_licence_names(code)), "url": licence_url(code)}


@functools.lru_cache(maxsize=256)
def _licence_names(code: str) -> tuple[tuple[str, str], ...]:
    # The names come from the installed catalogs, which do not change under a process;
    # switching the locale three times per result was a tenth of a search answer's time.
    names = []
    for lang in LANGUAGES:
        with force_locale(lang):
            names.append((lang, str(LICENCES.get(code, code))))
    return tuple(names)


def _author(author: dict) -> dict:
    return {"name": author.get("name", ""), "role": author.get("role", "author")}


def _asset(asset: Asset) -> dict:
    return {
        "sha256": asset.sha256,
        "media_type": asset.media_type,
        "size": asset.size,
        "name": asset.name,
        "width": asset.width,
        "height": asset.height,
        "url": absolute(media_url(asset.sha256, asset.media_type)),
    }


def _page_lang(module: Module) -> str:
    return module.language if module.language in LANGUAGES else "fr"
