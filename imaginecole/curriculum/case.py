"""A country's curriculum as a 1EdTech CASE 1.0 CFPackage (JSON), for other systems to import.

CASE names every node by a UUID; ours are UUIDv5 of the node's stable name
(``urn:imaginecole:…``), so the same curriculum gets the same identifiers on every server and
in every export. CASE texts have one language: the package is built in the one asked.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from imaginecole.clock import as_utc
from imaginecole.content.models import Module
from imaginecole.curriculum.models import Competency, Country, CurriculumVersion
from imaginecole.extensions import db
from imaginecole.links import competency_urn
from imaginecole.localized import pick


def node_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def cf_package(code: str, lang: str) -> dict | None:
    """Return the CFPackage of a country's curriculum with its texts in ``lang``, else None."""
    country = db.session.scalar(
        select(Country)
        .filter_by(code=code)
        .options(selectinload(Country.levels), selectinload(Country.subjects))
    )
    if country is None:
        return None
    stamp = _stamp(_last_change(code))
    base = f"urn:imaginecole:{code}:{country.framework_id}"
    document_id = node_uuid(base)
    title = pick(country.framework_title, lang).text or country.framework_id
    document_ref = {"title": title, "identifier": document_id, "uri": f"urn:uuid:{document_id}"}

    def ref(identifier: str, text: str) -> dict:
        return {"title": text, "identifier": identifier, "uri": f"urn:uuid:{identifier}"}

    items, associations = [], []

    def add_item(identifier, statement, kind, code_text, levels, parent_ref, position):
        items.append(
            {
                "identifier": identifier,
                "uri": f"urn:uuid:{identifier}",
                "fullStatement": statement,
                "humanCodingScheme": code_text,
                "CFItemType": kind,
                "language": lang,
                "educationLevel": levels,
                "lastChangeDateTime": stamp,
            }
        )
        link_id = node_uuid(f"{base}:isChildOf:{identifier}")
        associations.append(
            {
                "identifier": link_id,
                "uri": f"urn:uuid:{link_id}",
                "associationType": "isChildOf",
                "sequenceNumber": position,
                "originNodeURI": ref(identifier, statement),
                "destinationNodeURI": parent_ref,
                "lastChangeDateTime": stamp,
            }
        )

    grades = {level.id: f"{level.grade:02d}" for level in country.levels}
    subject_refs = {}
    for position, subject in enumerate(country.subjects, start=1):
        identifier = node_uuid(f"{base}:subject:{subject.slug}")
        name = subject.shown(lang).text
        subject_refs[subject.id] = ref(identifier, name)
        add_item(identifier, name, "Subject", subject.slug, [], document_ref, position)
    competencies = db.session.scalars(
        select(Competency)
        .filter_by(country_code=code)
        .options(selectinload(Competency.levels), selectinload(Competency.parent))
        .order_by(Competency.position, Competency.id)
    ).all()
    for competency in competencies:
        identifier = node_uuid(competency_urn(code, country.framework_id, competency.code))
        parent = competency.parent
        if parent is not None:
            parent_id = node_uuid(competency_urn(code, country.framework_id, parent.code))
            parent_ref = ref(parent_id, parent.shown(lang).text)
        else:
            parent_ref = subject_refs[competency.subject_id]
        add_item(
            identifier,
            competency.shown(lang).text,
            competency.type,
            competency.code,
            [grades[level.id] for level in competency.levels if level.id in grades],
            parent_ref,
            competency.position + 1,
        )
    return {
        "CFDocument": {
            "identifier": document_id,
            "uri": f"urn:uuid:{document_id}",
            "creator": pick(country.name, lang).text,
            "title": title,
            "lastChangeDateTime": stamp,
            "language": lang,
            "version": country.framework_version,
            "adoptionStatus": "Adopted",
            "notes": country.framework_id,
        },
        "CFItems": items,
        "CFAssociations": associations,
    }


def _last_change(code: str) -> datetime:
    """Return when the curriculum last changed, as far as this server knows.

    Its history when it has one (edits here); a curriculum only ever loaded from files has none,
    and is loaded with the country's modules: their newest change stands for it. The same
    curriculum must always give the same package (ETags, importers comparing dates).
    """
    changed = db.session.scalar(
        select(func.max(CurriculumVersion.created_at)).filter_by(country_code=code)
    ) or db.session.scalar(select(func.max(Module.updated_at)).filter_by(country_code=code))
    return as_utc(changed) if changed else datetime(1970, 1, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
