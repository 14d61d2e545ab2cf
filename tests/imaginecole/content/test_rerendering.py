"""Lessons an older renderer made are rendered again: at upgrade, at start-up, by check --repair."""

from __future__ import annotations

from sqlalchemy import select, update

from imaginecole.content.models import LessonText
from imaginecole.content.operations import stale_lessons
from imaginecole.extensions import db
from imaginecole.pages.generation import generation_in_session
from imaginecole.rendering import RENDERING_VERSION
from imaginecole.serving import prepare
from tests.conftest import load_content

OLD_HTML = "<p>1, 4 and a bare <math><mn>38</mn></math></p>"


def stored_html() -> dict[int, str]:
    return dict(db.session.execute(select(LessonText.id, LessonText.html)).all())


def as_if_an_older_version_rendered_them() -> None:
    """Give every lesson text the HTML and the rendering number an older version left."""
    db.session.execute(update(LessonText).values(html=OLD_HTML, rendering=0))
    db.session.commit()


def test_loaded_lessons_record_the_renderer_that_made_them(app):
    load_content(app)
    with app.app_context():
        versions = set(db.session.scalars(select(LessonText.rendering)))
        assert versions == {RENDERING_VERSION}
        assert stale_lessons() == 0


def test_db_upgrade_renders_old_lessons_again_and_retires_cached_pages(app):
    load_content(app)
    with app.app_context():
        fresh = stored_html()
        assert any("<img" in html for html in fresh.values())  # media are looked up again
        as_if_an_older_version_rendered_them()
        before = generation_in_session()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"{len(fresh)} lesson text(s) rendered by an older version" in result.output
    with app.app_context():
        assert stored_html() == fresh
        assert stale_lessons() == 0
        assert generation_in_session() != before
    again = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert "rendered again" not in again.output


def test_start_up_renders_old_lessons_again(app):
    load_content(app)
    with app.app_context():
        fresh = stored_html()
        as_if_an_older_version_rendered_them()
    prepare(app)
    with app.app_context():
        assert stored_html() == fresh
