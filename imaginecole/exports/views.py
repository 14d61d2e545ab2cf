"""The national team's ZIM files: build one in the background, download it.

They are offered on the publishing page (``bundles/publish.html``), next to the bundles.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from imaginecole.accounts.auth import editable_country, role_required
from imaginecole.exports import builds
from imaginecole.sending import send_stored

bp = Blueprint("exports", __name__, url_prefix="/<lang>", template_folder="templates")


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
