"""The booklet of a class and subject, offered from its catalogue page."""

from __future__ import annotations

from flask import Blueprint, abort

from imaginecole.catalog import queries
from imaginecole.exports.booklets import Booklet, render_booklet
from imaginecole.i18n import current_language
from imaginecole.pages.cache import public_page

bp = Blueprint("exports", __name__, url_prefix="/<lang>", template_folder="templates")

# The booklet holds its stylesheet and its images (data: URIs) and asks for nothing else.
BOOKLET_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@bp.route("/<string(length=2):country>/<level>/<subject>/booklet")
@public_page
def booklet(country: str, level: str, subject: str):
    found = queries.get_country(country)
    found_level = queries.get_level(found, level)
    found_subject = queries.get_subject(found, subject)
    modules = queries.modules_of(found_level, found_subject)
    if not modules:
        abort(404)
    page = Booklet(found, found_level, found_subject, current_language(), modules)
    return render_booklet(page), 200, {"Content-Security-Policy": BOOKLET_POLICY}
