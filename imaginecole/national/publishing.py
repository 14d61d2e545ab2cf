"""National team pages: see what changed since the last bundle, build the next, download them.

The page refreshes itself every two seconds while a build runs (an HTML meta refresh, no
JavaScript), showing the bytes written so far.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l

from imaginecole.auth import current_user, role_required
from imaginecole.national import bp
from imaginecole.national.uploads import editable_country
from imaginecole.services import publishing as service
from imaginecole.services.bundles import built_bundles

BUILD_REFUSALS = {
    "busy": _l("A bundle of this country is already being built. Wait for it to finish."),
    "no_base": _l("No bundle has been built yet: the first one must be a full bundle."),
}
BUILD_ERRORS = {
    "setup": _l("This server is not set up to build bundles of this country."),
    "build": _l("The bundle could not be built."),
    "unexpected": _l(
        "The build stopped because of an unexpected error; the server's log has the details."
    ),
    "interrupted": _l("The build stopped before the end (the server restarted). Start it again."),
}


@bp.route("/<country>/publish", methods=["GET", "POST"])
@role_required("editor")
def publish(country: str):
    team = editable_country(country)
    if request.method == "POST":
        kind = request.form.get("kind", "full")
        try:
            service.start_build(team.code, current_user(), kind if kind == "delta" else "full")
        except service.BuildRefused as refusal:
            flash(str(BUILD_REFUSALS[refusal.code]), "error")
        return redirect(url_for("national.publish", country=team.code))
    job = service.latest_job(team.code)
    running = job is not None and job.status == "running" and not service.is_stale(job)
    stale = job is not None and job.status == "running" and not running
    # While a build runs the page reloads every two seconds: the comparison waits for the end.
    changes = None if running else service.changes_since_last_bundle(team.code)
    bundles = [
        (bundle, service.bundle_files(bundle))
        for bundle in built_bundles(team.code)
        if bundle.channel == service.CHANNEL
    ]
    return render_template(
        "national/publish.html",
        country=team,
        job=job,
        running=running,
        stale=stale,
        changes=changes,
        bundles=bundles,
        build_error=BUILD_ERRORS.get(job.error_code) if job is not None else None,
    )


@bp.route("/<country>/bundles/<int:version>/download", defaults={"part": None})
@bp.route("/<country>/bundles/<int:version>/download/<int:part>")
@role_required("editor")
def bundle_download(country: str, version: int, part: int | None):
    team = editable_country(country)
    bundle = service.find_built(team.code, version)
    if bundle is None:
        abort(404)
    chosen = next((f for f in service.bundle_files(bundle) if f.part == part), None)
    if chosen is None:
        abort(404)
    # conditional: Range requests let a download cut short resume where it stopped.
    response = send_file(
        chosen.path,
        as_attachment=True,
        download_name=chosen.path.name,
        mimetype="application/octet-stream",
        conditional=True,
        max_age=0,
    )
    response.cache_control.private = True  # behind a login: no shared cache may keep it
    return response
