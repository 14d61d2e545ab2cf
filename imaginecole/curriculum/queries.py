"""Read a loaded curriculum back as plain data, for validating imports against it."""

from __future__ import annotations

from imaginecole.curriculum.models import Competency, Country
from imaginecole.extensions import db
from sync import model as fmt


def curriculum_of(code: str) -> fmt.Curriculum | None:
    """Return the loaded curriculum of a country as ``sync.content`` data, or None."""
    country = db.session.get(Country, code)
    if country is None:
        return None
    nodes = db.session.scalars(
        db.select(Competency).filter_by(country_code=code).order_by(Competency.position)
    )
    return fmt.Curriculum(
        code=country.code,
        languages=list(country.languages),
        name=dict(country.name),
        framework_id=country.framework_id,
        framework_version=country.framework_version,
        framework_title=dict(country.framework_title),
        cycles=[fmt.Cycle(c.code, dict(c.name)) for c in country.cycles],
        levels=[
            fmt.Level(lv.code, lv.slug, lv.cycle.code, lv.isced, lv.grade, dict(lv.name))
            for lv in country.levels
        ],
        domains=[fmt.Domain(d.slug, dict(d.name)) for d in country.domains],
        subjects=[fmt.Subject(s.slug, s.domain.slug, dict(s.name)) for s in country.subjects],
        competencies=[
            fmt.Competency(
                code=n.code,
                subject=n.subject.slug,
                type=n.type,
                label=dict(n.label),
                parent=n.parent.code if n.parent else None,
                levels=[lv.code for lv in n.levels],
            )
            for n in nodes
        ],
    )
