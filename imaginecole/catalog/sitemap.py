"""The public pages of the catalogue with the time each last changed, for sitemaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from imaginecole.clock import as_utc
from imaginecole.config import LANGUAGES
from imaginecole.content.models import Lesson, Module
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db


@dataclass(frozen=True)
class Page:
    endpoint: str
    values: tuple[tuple[str, str], ...]  # URL values but the language
    changed: datetime | None


def public_pages() -> list[Page]:
    """Return every public catalogue page in one language, the newest module change of each.

    A listing page changes when a module it lists does; the home page when any module does.
    """
    modules = db.session.scalars(
        select(Module)
        .where(Module.published.is_(True))
        .options(
            selectinload(Module.levels),
            selectinload(Module.subject),
            selectinload(Module.lessons).load_only(Lesson.slug, Lesson.position),
        )
        .order_by(Module.uid)
    ).all()
    newest: dict[tuple, datetime] = {}

    def touch(key: tuple, stamp: datetime) -> None:
        if key not in newest or stamp > newest[key]:
            newest[key] = stamp

    pages = []
    for module in modules:
        stamp = as_utc(module.updated_at)
        touch(("home",), stamp)
        touch(("country", module.country_code), stamp)
        for level in module.levels:
            touch(("level", module.country_code, level.slug), stamp)
            touch(("subject", module.country_code, level.slug, module.subject.slug), stamp)
        pages.append(Page("catalog.module", (("uid", module.uid),), stamp))
        for lesson in module.lessons:
            pages.append(
                Page("catalog.lesson", (("uid", module.uid), ("slug", lesson.slug)), stamp)
            )

    listings = [Page("catalog.home", (), newest.get(("home",)))]
    countries = db.session.scalars(
        select(Country).order_by(Country.code).options(selectinload(Country.levels))
    )
    for country in countries:
        code = country.code
        listings.append(
            Page("catalog.country", (("country", code),), newest.get(("country", code)))
        )
        for level in country.levels:
            listings.append(
                Page(
                    "catalog.level",
                    (("country", code), ("level", level.slug)),
                    newest.get(("level", code, level.slug)),
                )
            )
    for key, stamp in sorted(newest.items()):
        if key[0] == "subject":
            _, code, level, subject = key
            listings.append(
                Page(
                    "catalog.subject",
                    (("country", code), ("level", level), ("subject", subject)),
                    stamp,
                )
            )
    return listings + pages


def pages_in_every_language() -> list[tuple[str, Page]]:
    return [(lang, page) for page in public_pages() for lang in LANGUAGES]
