"""National team pages: coverage.

The map, its drill-down and its CSV are for the editors of the country and for admins; figures
come from ``imaginecole.coverage.queries``, shared with ``imaginecole report coverage``.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import lazy_gettext as _l

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.coverage import queries as service

bp = Blueprint("coverage", __name__, url_prefix="/<lang>/national", template_folder="templates")

# Shades of the map: (lowest count of the step, CSS class, legend). Zero is the gap, kept apart.
STEPS = (
    (5, "cov-3", _l("5 modules or more")),
    (2, "cov-2", _l("2 to 4 modules")),
    (1, "cov-1", _l("1 module")),
)


def shade(count: int) -> str:
    """Return the CSS class of a cell holding ``count`` published modules."""
    for lowest, css_class, _legend in STEPS:
        if count >= lowest:
            return css_class
    return "cov-gap"


def _check_access(country: str) -> None:
    # Another country's editor learns nothing, not even that the country exists here.
    if not current_user().can_act_for(country):
        abort(404)


@bp.route("/<string(length=2):country>/coverage")
@role_required("editor")
def coverage(country: str):
    _check_access(country)
    try:
        grid = service.coverage_grid(country)
    except service.CoverageNotFound:
        abort(404)
    return render_template("coverage/grid.html", grid=grid, steps=STEPS, shade=shade)


@bp.route("/<string(length=2):country>/coverage/<level>/<subject>")
@role_required("editor")
def coverage_detail(country: str, level: str, subject: str):
    _check_access(country)
    try:
        grid = service.coverage_grid(country)
        row, column, cell = grid.row(level), grid.subject(subject), grid.cell(level, subject)
        competencies = service.competency_coverage(country, level, subject)
    except service.CoverageNotFound:
        abort(404)
    return render_template(
        "coverage/detail.html",
        grid=grid,
        row=row,
        subject=column,
        cell=cell,
        competencies=competencies,
        shade=shade,
    )


@bp.route("/<string(length=2):country>/coverage.csv")
@role_required("editor")
def coverage_download(country: str):
    _check_access(country)
    try:
        text = service.coverage_csv(country)
    except service.CoverageNotFound:
        abort(404)
    # The byte order mark makes spreadsheet programs read UTF-8, so accents come out right.
    return Response(
        "\ufeff" + text,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="coverage-{country}.csv"',
            "Cache-Control": "no-store",
        },
    )
