"""Exports on the web: the booklet of a class and subject, offered from its catalogue page, and
the national team's ZIM files, built in the background and downloaded from the publishing page
(``bundles/publish.html``).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from imaginecole.accounts.auth import editable_country, role_required
from imaginecole.catalog import queries
from imaginecole.exports import builds
from imaginecole.exports.booklets import Booklet, render_booklet
from imaginecole.i18n import current_language
from imaginecole.pages.cache import public_page
from imaginecole.sending import send_stored

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


@bp.route("/national/<country>/exports/zim", methods=["POST"])
@role_required("editor")
def build_zim(country: str):
    team = editable_country(country)
    slug = request.form.get("level", "")
    level = next((level for level in team.levels if level.slug == slug), None)
    if slug and level is None:
        abort(404)
    try:
        builds.start_zim_build(team, level)
    except builds.ExportBusy:
        flash(_("This ZIM file is being built already."), "error")
    else:
        flash(_("The ZIM file is being built. This page shows it when it is ready."), "notice")
    return redirect(url_for("bundles.publish", country=team.code) + "#zim")


@bp.route("/national/<country>/exports/<name>")
@role_required("editor")
def download_zim(country: str, name: str):
    team = editable_country(country)
    offer = builds.find_offer(team, name)
    if offer is None or offer.size is None:
        abort(404)
    response = send_stored(offer.path, "application/x-zim", download_name=offer.name, max_age=0)
    response.cache_control.private = True  # behind a login: no shared cache may keep it
    return response
