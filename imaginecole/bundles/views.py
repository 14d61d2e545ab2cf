"""Bundle pages: a national team builds and downloads them; a school's admin installs them.

Publishing refreshes itself every two seconds while a build runs (an HTML meta refresh, no
JavaScript), showing the bytes written so far. Installing finds bundles on mounted USB drives.
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from imaginecole.accounts.auth import current_user, editable_country, role_required
from imaginecole.bundles import operations, publishing
from imaginecole.bundles.keys import (
    BundleSetupError,
    add_trust_from,
    current_trust,
    fingerprint,
    publisher_entry,
    read_trust_candidate,
)
from imaginecole.datadir import ImportBusy, trust_file_path
from imaginecole.exports.builds import offers as zim_offers
from imaginecole.sending import send_stored
from imaginecole.sides import NATIONAL, SCHOOL, shows
from sync import bundle as sync_bundle
from sync.bundle import catchup

bp = Blueprint("bundles", __name__, url_prefix="/<lang>", template_folder="templates")

# What each refusal means for the person at the school, in their language; the library's own
# sentence (with file names and versions) is shown below it.
REFUSALS = {
    sync_bundle.BadSignature: _l(
        "The bundle's signature does not match: it was changed or damaged after it was signed."
    ),
    sync_bundle.SignatureMissing: _l("The bundle is not signed."),
    sync_bundle.UntrustedKey: _l("The bundle was signed by a key this server does not trust."),
    sync_bundle.KeyNotAllowed: _l(
        "The key that signed the bundle may not publish for this country."
    ),
    sync_bundle.Rollback: _l("This server already has a newer version of this content."),
    sync_bundle.RevokedBase: _l(
        "The content installed here was published with a key that has since been revoked. "
        "It keeps working until a full bundle replaces it: import the next full bundle."
    ),
    sync_bundle.TrustRollback: _l(
        "This server's trust file is older than the one it accepted before, and may trust "
        "revoked keys. Put the newest trust file back."
    ),
    sync_bundle.TrustNotSigned: _l(
        "The new trust file is not signed by the national root keys this server trusts."
    ),
    sync_bundle.TrustFileError: _l("This server's trust file cannot be used."),
    sync_bundle.InsufficientSpace: _l(
        "There is not enough free space on this server's disk. Nothing was changed: free some "
        "space (the details below say how much), then import again."
    ),
    sync_bundle.UnsupportedFormat: _l(
        "The bundle was made by a newer version of Imaginecole. Update this server first."
    ),
    sync_bundle.DecompressionBomb: _l(
        "The bundle is malformed (its contents would unpack far beyond their declared size)."
    ),
    sync_bundle.UnsafeEntryName: _l(
        "The bundle contains a file name that tries to leave its folder."
    ),
    sync_bundle.MissingPart: _l(
        "A part of this bundle is missing from the drive. Copy every part into the same folder."
    ),
    sync_bundle.BundleReadError: _l(
        "The drive could not be read to the end (was it pulled out?). Plug it in again and retry: the import resumes."
    ),
    ImportBusy: _l(
        "Another import is running on this server. Wait for it to finish, then try again."
    ),
    BundleSetupError: _l("This server is not set up to accept bundles yet."),
}
CORRUPT = _l(
    "The bundle is damaged or incomplete (a file is missing, changed, cut short or too big). Copy it again from the source."
)
MAX_CANDIDATES = 200


def explain(error: sync_bundle.BundleError) -> str:
    if isinstance(error, sync_bundle.BaseNotInstalled):
        # Name the version missing: "import the full bundle" is wrong advice to a server that
        # has it and lacks only an update in between.
        if error.installed is None:
            return _(
                "This bundle only holds the changes since version %(base)s, and this server has "
                "nothing of this content yet: install a full bundle first.",
                base=error.base,
            )
        if error.installed > error.base:
            return _(
                "This bundle only holds the changes since version %(base)s, and this server has "
                "version %(installed)s: it is not for this server. Ask for a full bundle or an "
                "update since version %(installed)s.",
                base=error.base,
                installed=error.installed,
            )
        return _(
            "This bundle only holds the changes since version %(base)s, and this server has "
            "version %(installed)s: install the versions in between first (the install page "
            "does it in the right order when they are on the drive).",
            base=error.base,
            installed=error.installed,
        )
    for error_type, text in REFUSALS.items():
        if isinstance(error, error_type):
            return str(text)
    return str(CORRUPT)


def bundles_on_drives() -> list[Path]:
    """Return the bundles found on mounted drives, at most three folders deep."""
    found: list[Path] = []
    for root in current_app.config["BUNDLE_SEARCH_PATHS"]:
        root = Path(root)
        if not root.is_dir():
            continue
        for depth in range(4):
            for path in sorted(root.glob("/".join(["*"] * depth + ["*.icb"]))):
                found.append(path)
            for path in sorted(root.glob("/".join(["*"] * depth + ["*.icb.001"]))):
                found.append(path.with_name(path.name[: -len(".001")]))
            if len(found) >= MAX_CANDIDATES:
                return found[:MAX_CANDIDATES]
    return found


@bp.route("/admin/")
@role_required("admin")
def index():
    return redirect(url_for("bundles.bundle_list"))


@bp.route("/admin/bundles")
@role_required("admin")
def bundle_list():
    paths = bundles_on_drives()
    candidates, setup_error = [], None
    if paths:
        try:
            candidates = operations.survey_bundles(paths)
        except sync_bundle.BundleError as error:
            setup_error = explain(error)
    return render_template(
        "bundles/installed.html",
        installed=operations.installed_bundles(),
        log=operations.installation_log(),
        built=operations.built_bundles(),
        paths=paths,
        candidates=candidates,
        to_install=sum(c.status == catchup.INSTALL for c in candidates),
        setup_error=setup_error,
        explain=explain,
        search_paths=current_app.config["BUNDLE_SEARCH_PATHS"],
    )


@bp.route("/admin/bundles/install-all", methods=["POST"])
@role_required("admin")
def bundle_install_all():
    try:
        report = operations.install_all(bundles_on_drives(), by=current_user())
    except sync_bundle.BundleError as error:
        return render_template(
            "bundles/import_refused.html", explanation=explain(error), detail=str(error)
        ), 400
    if report.error is not None:
        return render_template(
            "bundles/import_refused.html",
            explanation=explain(report.error),
            detail=str(report.error),
            report=report,
        ), 400
    for done in report.installed:
        _flash_installed(done)
    if not report.installed:
        flash(_("Nothing to install: this server is up to date with the drive."), "info")
    return redirect(url_for("bundles.bundle_list"))


@bp.route("/admin/bundles/import", methods=["POST"])
@role_required("admin")
def bundle_import():
    chosen = request.form.get("path", "")
    # Only a bundle the page offered: a form must not make the server open any path it names.
    candidates = {str(path): path for path in bundles_on_drives()}
    if chosen not in candidates:
        flash(
            _("That bundle is no longer on the drive. Check the drive and choose again."), "error"
        )
        return redirect(url_for("bundles.bundle_list"))
    try:
        report = operations.import_bundle(candidates[chosen], by=current_user())
    except sync_bundle.BundleError as error:
        return render_template(
            "bundles/import_refused.html", explanation=explain(error), detail=str(error)
        ), 400
    _flash_installed(report)
    return redirect(url_for("bundles.bundle_list"))


def _flash_installed(report: operations.ImportReport) -> None:
    if report.noop:
        flash(
            _(
                "Version %(version)s of %(country)s is already installed: nothing to do.",
                version=report.version,
                country=report.country.upper(),
            ),
            "info",
        )
    else:
        flash(
            _(
                "Installed version %(version)s of %(country)s: %(applied)s modules updated, %(removed)s removed.",
                version=report.version,
                country=report.country.upper(),
                applied=report.modules_applied,
                removed=report.modules_removed,
            ),
            "info",
        )
        if report.index_behind:
            flash(
                _(
                    "The search could not be updated (%(reason)s): new lessons are shown but not "
                    "yet found by searches. Free some disk space; the search catches up at the "
                    "next import or when the server restarts.",
                    reason=report.index_behind,
                ),
                "error",
            )


def _check_acts_for(country: str) -> None:
    """Refuse an admin of one country the removal of another's content."""
    if not current_user().can_act_for(country):
        abort(403)


@bp.route("/admin/bundles/remove/confirm")
@role_required("admin")
def bundle_remove_confirm():
    country, channel = request.args.get("country", ""), request.args.get("channel", "main")
    _check_acts_for(country)
    versions = [
        row
        for row in operations.installed_bundles()
        if (row.country_code, row.channel) == (country, channel)
    ]
    if not versions:
        abort(404)
    return render_template(
        "bundles/remove_confirm.html",
        country=country,
        channel=channel,
        versions=versions,
        modules=operations.channel_modules(country, channel),
    )


@bp.route("/admin/bundles/remove", methods=["POST"])
@role_required("admin")
def bundle_remove():
    country, channel = request.form.get("country", ""), request.form.get("channel", "main")
    _check_acts_for(country)
    if request.form.get("confirmed") != "yes":
        # Only the confirmation page, which lists what will disappear, sends "confirmed".
        return redirect(url_for("bundles.bundle_remove_confirm", country=country, channel=channel))
    try:
        count = operations.remove_channel(country, channel, by=current_user())
    except sync_bundle.BundleError as error:
        flash(explain(error), "error")
    else:
        flash(
            _("Removed %(count)s modules of %(country)s.", count=count, country=country.upper()),
            "info",
        )
        flash(
            _(
                "To bring them back, install a full bundle of %(country)s again: the media "
                "files are still on this server, so it goes fast.",
                country=country.upper(),
            ),
            "info",
        )
    return redirect(url_for("bundles.bundle_list"))


# ---------------------------------------------------------------------------- trust


def trust_files_on_drives() -> list[Path]:
    """Return the TOML files found on mounted drives, at most three folders deep."""
    found: list[Path] = []
    for root in current_app.config["BUNDLE_SEARCH_PATHS"]:
        root = Path(root)
        if root.is_dir():
            for depth in range(4):
                found += sorted(root.glob("/".join(["*"] * depth + ["*.toml"])))
    return found[:MAX_CANDIDATES]


@bp.route("/admin/trust")
@role_required("admin")
def trust():
    installed, trust_error, candidates = None, None, []
    if shows(SCHOOL):
        if trust_file_path().exists():
            try:
                installed = current_trust()
            except sync_bundle.BundleError as error:
                trust_error = explain(error)
        for path in trust_files_on_drives():
            try:
                candidates.append((path, read_trust_candidate(path), None))
            except sync_bundle.BundleError as error:
                candidates.append((path, None, str(error)))
    publisher = publisher_entry() if shows(NATIONAL) else None
    return render_template(
        "bundles/trust.html",
        installed=installed,
        trust_error=trust_error,
        candidates=candidates,
        publisher=publisher,
        fingerprint=fingerprint,
    )


@bp.route("/admin/trust/add", methods=["POST"])
@role_required("admin")
def trust_add():
    chosen = request.form.get("path", "")
    # Only a file the page offered: a form must not make the server read any path it names.
    offered = {str(path): path for path in trust_files_on_drives()}
    if chosen not in offered:
        flash(_("That file is no longer on the drive. Check the drive and choose again."), "error")
        return redirect(url_for("bundles.trust"))
    try:
        add_trust_from(offered[chosen])
    except sync_bundle.BundleError as error:
        flash(explain(error), "error")
        flash(str(error), "error")
    else:
        flash(_("The trust file is updated: bundles signed by these keys are accepted."), "info")
    return redirect(url_for("bundles.trust"))


@bp.route("/admin/trust/publisher.toml")
@role_required("admin")
def trust_entry():
    publisher = publisher_entry()
    if publisher is None or not publisher[2]:
        abort(404)
    response = current_app.response_class(publisher[2], mimetype="application/toml")
    response.headers["Content-Disposition"] = "attachment; filename=trust-publisher.toml"
    return response


# ---------------------------------------------------------------------------- publishing

BUILD_REFUSALS = {
    "busy": _l("A bundle of this country is already being built. Wait for it to finish."),
    "no_base": _l(
        "An update needs a bundle built before it on this server, of the version chosen."
    ),
    "nothing": _l(
        "Nothing has changed since the last bundle: a new one would be empty. Schools that "
        "are behind install the bundles already built, in order, in one action."
    ),
    "note": _l("The note for the schools is too long: keep it under 2,000 characters."),
}
BUILD_ERRORS = {
    "setup": _l("This server is not set up to build bundles of this country."),
    "build": _l("The bundle could not be built."),
    "unexpected": _l(
        "The build stopped because of an unexpected error; the server's log has the details."
    ),
    "interrupted": _l("The build stopped before the end (the server restarted). Start it again."),
}


@bp.route("/national/<country>/publish", methods=["GET", "POST"])
@role_required("editor")
def publish(country: str):
    team = editable_country(country)
    if request.method == "POST":
        kind = request.form.get("kind", "full")
        since = request.form.get("since", "")
        try:
            publishing.start_build(
                team.code,
                current_user(),
                kind if kind == "delta" else "full",
                since=int(since) if since.isdecimal() else None,
                note=request.form.get("note", ""),
            )
        except publishing.BuildRefused as refusal:
            flash(str(BUILD_REFUSALS[refusal.code]), "error")
        return redirect(url_for("bundles.publish", country=team.code))
    job = publishing.latest_job(team.code)
    running = job is not None and job.status == "running" and not publishing.is_stale(job)
    stale = job is not None and job.status == "running" and not running
    # While a build runs the page reloads every two seconds: the comparison waits for the end.
    changes = None if running else publishing.changes_since_last_bundle(team.code)
    bundles = [
        (bundle, publishing.bundle_files(bundle), publishing.own_changelog(bundle))
        for bundle in operations.built_bundles(team.code)
        if bundle.channel == publishing.CHANNEL
    ]
    return render_template(
        "bundles/publish.html",
        country=team,
        job=job,
        running=running,
        stale=stale,
        changes=changes,
        bundles=bundles,
        build_error=BUILD_ERRORS.get(job.error_code) if job is not None else None,
        zim_offers=zim_offers(team),
    )


@bp.route("/national/<country>/bundles/<int:version>/download", defaults={"part": None})
@bp.route("/national/<country>/bundles/<int:version>/download/<int:part>")
@role_required("editor")
def bundle_download(country: str, version: int, part: int | None):
    team = editable_country(country)
    bundle = publishing.find_built(team.code, version)
    if bundle is None:
        abort(404)
    chosen = next((f for f in publishing.bundle_files(bundle) if f.part == part), None)
    if chosen is None:
        abort(404)
    # conditional: Range requests let a download cut short resume where it stopped.
    response = send_stored(
        chosen.path, "application/octet-stream", download_name=chosen.path.name, max_age=0
    )
    response.cache_control.private = True  # behind a login: no shared cache may keep it
    return response
