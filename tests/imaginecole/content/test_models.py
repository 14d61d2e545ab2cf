"""The module table against the shared module shape of ``sync.model``."""

from __future__ import annotations

from dataclasses import fields

from imaginecole.content.models import PLAIN_FIELDS, Module
from sync.model import Author, ModuleInfo


def test_every_field_of_the_shared_shape_has_a_place_in_the_table():
    # A field added to ModuleInfo must be given a column (or a mapping) before it can travel.
    mapped_by_the_loader = {
        "id",
        "country",
        "levels",
        "subject",
        "competencies",
        "assesses",
        "authors",
    }
    assert {f.name for f in fields(ModuleInfo)} == set(PLAIN_FIELDS) | mapped_by_the_loader
    assert set(PLAIN_FIELDS) <= set(Module.__table__.columns.keys())


def test_plain_fields_are_copied_both_ways_without_sharing_lists():
    info = ModuleInfo(
        id="zz-m",
        country="zz",
        version=3,
        language="fr",
        levels=["cm1"],
        subject="maths",
        resource_type="lesson",
        licence="CC-BY-4.0",
        keywords=["fractions"],
        derived_from=["https://example.org/a"],
        attribution="Équipe ZZ",
        title={"fr": "Fractions"},
        summary={"fr": "Lire une fraction"},
        authors=[Author("Awa")],
    )
    module = Module()
    module.set_plain_fields(info)
    copied = module.plain_fields()
    assert copied == {name: getattr(info, name) for name in PLAIN_FIELDS}
    copied["keywords"].append("changed")
    assert module.keywords == ["fractions"]
