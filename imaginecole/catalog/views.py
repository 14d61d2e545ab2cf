"""Catalogue pages, from the choice of a country down to a lesson."""

from __future__ import annotations

from flask import Blueprint, render_template, request, send_file
from flask_babel import format_decimal
from flask_babel import gettext as _

from imaginecole.accounts.auth import changes_nothing
from imaginecole.catalog import queries
from imaginecole.catalog.exercises import lesson_with_feedback, printed_lessons
from imaginecole.catalog.offline import estimated_size, module_zip
from imaginecole.catalog.structured import lesson_json_ld, module_json_ld
from imaginecole.i18n import current_language
from imaginecole.pages.cache import public_page

bp = Blueprint("catalog", __name__, url_prefix="/<lang>", template_folder="templates")


@bp.route("/")
@public_page
def home():
    return render_template(
        "catalog/home.html", countries=queries.countries_with_counts(current_language())
    )


@bp.route("/<string(length=2):country>/")
@public_page
def country(country: str):
    found = queries.get_country(country)
    counts = queries.module_counts_by_level(found)
    return render_template(
        "catalog/country.html",
        country=found,
        filled=[
            (cycle, [(level, counts[level.id]) for level in cycle.levels if counts.get(level.id)])
            for cycle in found.cycles
            if any(counts.get(level.id) for level in cycle.levels)
        ],
        empty=[
            level for cycle in found.cycles for level in cycle.levels if not counts.get(level.id)
        ],
        search_scope=[
            (
                "country",
                found.code,
                _("only in %(place)s", place=found.shown(current_language()).text),
            )
        ],
    )


@bp.route("/<string(length=2):country>/<level>/")
@public_page
def level(country: str, level: str):
    found = queries.get_country(country)
    found_level = queries.get_level(found, level)
    counts = queries.module_counts_by_subject(found_level)
    return render_template(
        "catalog/level.html",
        country=found,
        level=found_level,
        filled=[(s, counts[s.id]) for s in found.subjects if counts.get(s.id)],
        empty=[s for s in found.subjects if not counts.get(s.id)],
        search_scope=[
            (
                "country",
                found.code,
                _("only in %(place)s", place=found.shown(current_language()).text),
            ),
            (
                "level",
                f"{found.code}:{found_level.slug}",
                _("only in %(place)s", place=found_level.code),
            ),
        ],
    )


@bp.route("/<string(length=2):country>/<level>/<subject>/")
@public_page
def subject(country: str, level: str, subject: str):
    found = queries.get_country(country)
    found_level = queries.get_level(found, level)
    found_subject = queries.get_subject(found, subject)
    modules = queries.modules_of(found_level, found_subject)
    return render_template(
        "catalog/subject.html",
        country=found,
        level=found_level,
        subject=found_subject,
        groups=queries.group_by_competency(modules),
        module_count=len(modules),
    )


@bp.route("/modules/<uid>/")
@public_page
def module(uid: str):
    found = queries.get_module(uid)
    return render_template(
        "catalog/module.html",
        module=found,
        country=found.country,
        level=found.levels[0],
        json_ld=module_json_ld(found, current_language()),
        download_size=readable_size(estimated_size(found)),
    )


def readable_size(size: int) -> str:
    """Return a size as a reader says it: "12 kB", "1.4 MB", in the page's language."""
    if size < 1_000_000:
        return _("%(num)s kB", num=format_decimal(max(1, round(size / 1000))))
    return _("%(num)s MB", num=format_decimal(round(size / 1_000_000, 1)))


@bp.route("/modules/<uid>/print")
@public_page
def print_module(uid: str):
    found = queries.get_module_with_texts(uid)
    return render_template(
        "catalog/print.html",
        module=found,
        country=found.country,
        level=found.levels[0],
        lessons=printed_lessons(found, current_language()),
    )


@bp.route("/modules/<uid>/<slug>", methods=["GET", "POST"])
@public_page  # GET and HEAD only: an answer checked is never stored
@changes_nothing
def lesson(uid: str, slug: str):
    """Show a lesson; a POST checks the answer to one of its exercises and shows the feedback.

    ``exercises.js`` asks for the answered exercise alone (``X-Exercise: fragment``).
    """
    found = queries.get_module(uid)
    lesson, previous, following = queries.get_lesson(found, slug)
    text = lesson.text_in(current_language())
    html = text.html
    if request.method == "POST":
        answered = lesson_with_feedback(found, text)
        if answered is not None:
            html, fragment = answered
            if request.headers.get("X-Exercise") == "fragment":
                return fragment, 200, {"Content-Type": "text/html; charset=utf-8"}
    return render_template(
        "catalog/lesson.html",
        module=found,
        country=found.country,
        level=found.levels[0],
        lesson=lesson,
        text=text,
        html=html,
        previous=previous,
        following=following,
        json_ld=lesson_json_ld(found, lesson, text, current_language()),
    )


@bp.route("/modules/<uid>/download.zip")
@public_page
def download(uid: str):
    found = queries.get_module(uid)
    lang = current_language()
    return send_file(
        module_zip(found, lang),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{found.uid}-v{found.version}-{lang}.zip",
        max_age=3600,
    )
