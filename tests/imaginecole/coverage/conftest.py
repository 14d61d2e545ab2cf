"""Servers with the zz test content for the coverage tests (see test_coverage.py for what zz holds)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from imaginecole.accounts.operations import create_user
from imaginecole.content.models import Module, ModuleCompetency
from imaginecole.curriculum.models import Competency, Country, Level, Subject
from imaginecole.extensions import db
from tests.conftest import load_content, make_app
from tests.imaginecole.national_helpers import PASSWORD


def add_users(app) -> None:
    with app.app_context():
        db.session.add(
            Country(
                code="yy",
                name={"fr": "Ypsiland"},
                languages=["fr"],
                framework_id="yy-test",
                framework_version="1",
                framework_title={"fr": "Programme"},
            )
        )
        db.session.commit()
        create_user("admin@example.org", "Admin", PASSWORD, "admin")
        create_user("editor-zz@example.org", "Editor ZZ", PASSWORD, "editor", "zz")
        create_user("editor-yy@example.org", "Editor YY", PASSWORD, "editor", "yy")
        create_user("teacher-zz@example.org", "Teacher ZZ", PASSWORD, "teacher", "zz")
        db.session.commit()


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """The zz content as loaded, a second country yy, and one account of each kind."""
    app = make_app(tmp_path_factory.mktemp("coverage"))
    assert not load_content(app).problems
    add_users(app)
    return app


@pytest.fixture
def changed(app):
    """The zz content, then changed by hand (see the comments) to make gaps and edge cases."""
    assert not load_content(app).problems
    with app.app_context():
        by_uid = {m.uid: m for m in db.session.scalars(select(Module))}
        comp = {c.code: c for c in db.session.scalars(select(Competency))}
        math, hist = (
            db.session.scalar(select(Subject).filter_by(country_code="zz", slug=slug))
            for slug in ("mathematiques", "histoire")
        )
        seventh = db.session.scalar(select(Level).filter_by(country_code="zz", slug="7e-annee"))
        # Unpublished, and now also filed at 7e année: that pair enters the curriculum as a gap.
        fractions = by_uid["zz-maths-fractions"]
        fractions.published = False
        fractions.levels.append(seventh)
        # A history module (7e année) that also teaches a science competency.
        by_uid["zz-histoire-royaume"].competency_links.append(
            ModuleCompetency(competency=comp["ZZ-SCI-1"], relation="teaches")
        )
        # A child without levels follows its parent (CM1); a root without levels shows at every
        # level in the drill-down but places histoire at no level on the map.
        child = Competency(
            country_code="zz", subject=math, parent=comp["ZZ-MATH-1"], code="ZZ-MATH-1-2",
            type="palier", label={"fr": "Comparer deux fractions"}, position=10,
        )  # fmt: skip
        root = Competency(
            country_code="zz", subject=hist, code="ZZ-HIST-1", type="competence",
            label={"fr": "Situer des faits dans le temps"}, position=11,
        )  # fmt: skip
        db.session.add_all([child, root])
        # The science module (CM1) also teaches that maths child.
        by_uid["zz-sciences-eau"].competency_links.append(
            ModuleCompetency(competency=child, relation="teaches")
        )
        db.session.commit()
        create_user("admin@example.org", "Admin", PASSWORD, "admin")
        db.session.commit()
    return app
