"""Administration pages: install bundles from a USB drive, see and undo what is installed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from imaginecole.auth import role_required
from imaginecole.services import bundles
from sync import bundle as sync_bundle
from sync.submissions import PACKAGE_SUFFIX

bp = Blueprint("admin", __name__, url_prefix="/<lang>/admin", template_folder="templates")

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
    sync_bundle.BaseNotInstalled: _l(
        "This bundle only holds changes to a version this server does not have. Import the full bundle first."
    ),
    sync_bundle.InsufficientSpace: _l("There is not enough free space on this server's disk."),
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
    bundles.ImportBusy: _l(
        "Another import is running on this server. Wait for it to finish, then try again."
    ),
    bundles.BundleSetupError: _l("This server is not set up to accept bundles yet."),
}
CORRUPT = _l(
    "The bundle is damaged or incomplete (a file is missing, changed, cut short or too big). Copy it again from the source."
)
MAX_CANDIDATES = 200


def explain(error: sync_bundle.BundleError) -> str:
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


@bp.route("/")
@role_required("admin")
def index():
    return redirect(url_for("admin.bundle_list"))


@bp.route("/bundles")
@role_required("admin")
def bundle_list():
    return render_template(
        "admin/bundles.html",
        installed=bundles.installed_bundles(),
        built=bundles.built_bundles(),
        candidates=bundles_on_drives(),
        search_paths=current_app.config["BUNDLE_SEARCH_PATHS"],
    )


@bp.route("/bundles/import", methods=["POST"])
@role_required("admin")
def bundle_import():
    chosen = request.form.get("path", "")
    # Only a bundle the page offered: a form must not make the server open any path it names.
    candidates = {str(path): path for path in bundles_on_drives()}
    if chosen not in candidates:
        flash(
            _("That bundle is no longer on the drive. Check the drive and choose again."), "error"
        )
        return redirect(url_for("admin.bundle_list"))
    try:
        report = bundles.import_bundle(candidates[chosen])
    except sync_bundle.BundleError as error:
        return render_template(
            "admin/import_refused.html", explanation=explain(error), detail=str(error)
        ), 400
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
    return redirect(url_for("admin.bundle_list"))


@bp.route("/outbox", methods=["GET", "POST"])
@role_required("admin")
def outbox():
    from imaginecole.services import outbox as service

    if request.method == "POST":
        country = request.form.get("country", "")
        out_dir = bundles.data_path("outbox")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"submissions-{country}-{datetime.now(UTC):%Y%m%d-%H%M%S}{PACKAGE_SUFFIX}"
        report = service.export_package(country, path)
        if report.path is None:
            flash(_("Nothing to send: every submission has reached the national team."), "info")
            return redirect(url_for("admin.outbox"))
        return send_file(
            path, as_attachment=True, download_name=path.name, mimetype="application/octet-stream"
        )
    pending = {code: service.pending_submissions(code) for code in service.countries_with_pending()}
    return render_template("admin/outbox.html", pending=pending)


@bp.route("/bundles/remove", methods=["POST"])
@role_required("admin")
def bundle_remove():
    country, channel = request.form.get("country", ""), request.form.get("channel", "main")
    try:
        count = bundles.remove_channel(country, channel)
    except sync_bundle.BundleError as error:
        flash(explain(error), "error")
    else:
        flash(
            _("Removed %(count)s modules of %(country)s.", count=count, country=country.upper()),
            "info",
        )
    return redirect(url_for("admin.bundle_list"))
