"""Teacher pages (my submissions: write or edit one with preview, submit, withdraw), and the
school admin's outbox, which packs them for the national team."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
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
from sqlalchemy import select

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.curriculum.models import Country, Subject
from imaginecole.datadir import shared_path
from imaginecole.extensions import db
from imaginecole.form_errors import PROBLEM_TEXTS
from imaginecole.i18n import current_language
from imaginecole.submissions import operations as service
from imaginecole.submissions.files import TeacherFileRefused, render_with_files, store_teacher_file
from imaginecole.submissions.models import OPEN_LICENCES_FOR_TEACHERS, TeacherFile
from imaginecole.submissions.outbox import (
    SchoolKeyMissing,
    countries_with_pending,
    export_package,
    pending_submissions,
)
from imaginecole.submissions.queries import reviewer_changes
from sync.bundle import BundleError
from sync.submissions import PACKAGE_SUFFIX

bp = Blueprint("submissions", __name__, url_prefix="/<lang>", template_folder="templates")

UPLOAD_PROBLEMS = {
    "empty": _l("the file is empty"),
    "too_big": _l("the file is too big"),
    "markup": _l("web pages and SVG drawings cannot be uploaded; export a PNG image or a PDF"),
    "unknown_type": _l(
        "this kind of file is not accepted (images, PDF, MP3, OGG, MP4 and WebM are)"
    ),
    "bad_image": _l("the image cannot be read or is too large"),
}
STATUS_NAMES = {
    "draft": _l("Draft"),
    "submitted": _l("Ready to send"),
    "sent": _l("Sent, waiting for the national team"),
    "received": _l("Received by the national team"),
    "changes_requested": _l("Changes requested"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}

# Names of what a reviewer can change, as the teacher's form calls them.
CHANGED_FIELDS = {
    "title": _l("Title"),
    "summary": _l("Summary"),
    "levels": _l("Classes"),
    "subject": _l("Subject"),
    "competencies": _l("Competencies"),
    "markdown": _l("Lesson text"),
}


@bp.app_context_processor
def status_helpers():
    return {"status_name": lambda code: STATUS_NAMES.get(code, code)}


def _form_from_request() -> service.SubmissionForm:
    form = request.form
    upload_ids = []
    for value in form.getlist("keep_file"):
        if value.isdigit():
            upload_ids.append(int(value))
    return service.SubmissionForm(
        title=form.get("title", "")[: service.MAX_TITLE + 1],
        summary=form.get("summary", "")[: service.MAX_SUMMARY + 1],
        language=form.get("language", "fr"),
        levels=form.getlist("levels"),
        subject=form.get("subject", ""),
        competencies=form.getlist("competencies"),
        licence=form.get("licence", ""),
        markdown=form.get("markdown", "")[: service.MAX_MARKDOWN + 1],
        upload_ids=upload_ids,
    )


def _store_new_files(form: service.SubmissionForm) -> list[str]:
    """Store the files sent with the form; return a message per refused file."""
    refused = []
    for storage in request.files.getlist("files"):
        if not storage or not storage.filename:
            continue
        try:
            upload = store_teacher_file(current_user(), storage.filename, storage.read())
        except TeacherFileRefused as error:
            refused.append(
                _(
                    "%(name)s: %(reason)s",
                    name=storage.filename[:80],
                    reason=UPLOAD_PROBLEMS[error.reason],
                )
            )
            continue
        form.upload_ids.append(upload.id)
    return refused


def _preview(form: service.SubmissionForm) -> str:
    uploads = db.session.scalars(
        select(TeacherFile).where(
            TeacherFile.id.in_(form.upload_ids), TeacherFile.user_id == current_user().id
        )
    ).all()
    return render_with_files(form.markdown, uploads, form.language or "fr")


def _editor(form, submission=None, problems=None, preview=None, refused=None, status=200):
    user = current_user()
    country = db.session.get(Country, user.country_code)
    uploads = db.session.scalars(
        select(TeacherFile).where(
            TeacherFile.id.in_(form.upload_ids), TeacherFile.user_id == user.id
        )
    ).all()
    return (
        render_template(
            "submissions/edit.html",
            form=form,
            submission=submission,
            country=country,
            problems={k: PROBLEM_TEXTS.get(v, v) for k, v in (problems or {}).items()},
            preview=preview,
            refused=refused or [],
            uploads=uploads,
            licences=OPEN_LICENCES_FOR_TEACHERS,
        ),
        status,
    )


def _handle(submission=None):
    form = _form_from_request()
    refused = _store_new_files(form)
    # The files are kept even when the form comes back with problems: it lists them by id.
    db.session.commit()
    action = request.form.get("action", "save")
    if action == "preview" or refused:
        return _editor(
            form,
            submission,
            preview=_preview(form),
            refused=refused,
            status=400 if refused else 200,
        )
    try:
        if submission is None:
            submission = service.create_submission(current_user(), form)
        else:
            service.save_revision(submission, current_user(), form)
    except service.SubmissionError as error:
        return _editor(form, submission, problems=error.problems, status=400)
    if action == "submit":
        service.submit(submission)
        message = _("Your resource is ready to go to the national team with the next export.")
    else:
        message = _("Draft saved.")
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("submissions.detail", uid=submission.uid))


@bp.route("/my/submissions")
@role_required("teacher")
def index():
    return render_template(
        "submissions/index.html", submissions=service.submissions_of(current_user())
    )


@bp.route("/my/submissions/new", methods=["GET", "POST"])
@role_required("teacher")
def new():
    if current_user().country_code is None:
        abort(403)
    if request.method == "POST":
        return _handle()
    return _editor(service.SubmissionForm(licence=""))


def _own(uid: str):
    submission = service.get_own(current_user(), uid)
    if submission is None:
        abort(404)  # someone else's submission does not exist, as far as this user can tell
    return submission


@bp.route("/my/submissions/<uid>")
@role_required("teacher")
def detail(uid: str):
    submission = _own(uid)
    latest = submission.latest
    html = render_with_files(latest.markdown, latest.files, latest.language)
    subjects = {
        row.slug: row.shown(current_language()).text
        for row in db.session.scalars(
            select(Subject).filter_by(country_code=submission.country_code)
        )
    }
    return render_template(
        "submissions/detail.html",
        submission=submission,
        latest=latest,
        html=html,
        subjects=subjects,
        changes=reviewer_changes(submission),
        field_names=CHANGED_FIELDS,
    )


@bp.route("/my/submissions/<uid>/edit", methods=["GET", "POST"])
@role_required("teacher")
def edit(uid: str):
    submission = _own(uid)
    if not submission.editable:
        flash(str(PROBLEM_TEXTS["locked"]), "error")
        return redirect(url_for("submissions.detail", uid=uid))
    if request.method == "POST":
        return _handle(submission)
    form = service.form_from(submission.latest)
    shas = [f["sha256"] for f in submission.latest.files]
    form.upload_ids = list(
        db.session.scalars(
            select(TeacherFile.id).where(
                TeacherFile.user_id == current_user().id, TeacherFile.sha256.in_(shas)
            )
        )
    )
    return _editor(form, submission)


@bp.route("/my/submissions/<uid>/withdraw", methods=["POST"])
@role_required("teacher")
def withdraw(uid: str):
    service.withdraw(_own(uid))
    db.session.commit()
    flash(_("The resource was withdrawn."), "info")
    return redirect(url_for("submissions.detail", uid=uid))


# ---------------------------------------------------------------------------- the outbox

KEY_NOT_CREATED = _l(
    "Create it once with the command imaginecole submissions key, and send the entry it prints "
    "to the national team."
)
KEY_LOST = _l(
    "Its key was lost after packages were sent: restore it from the server's backup. A new key "
    "would need the national team to enrol this school again."
)


@bp.route("/admin/outbox", methods=["GET", "POST"])
@role_required("admin")
def outbox():
    if request.method == "POST":
        country = request.form.get("country", "")
        out_dir = shared_path("outbox")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"submissions-{country}-{datetime.now(UTC):%Y%m%d-%H%M%S}{PACKAGE_SUFFIX}"
        try:
            report = export_package(country, path)
        except SchoolKeyMissing as error:
            db.session.rollback()
            advice = KEY_LOST if error.used_before else KEY_NOT_CREATED
            flash(
                f"{_('This school server has no key to sign its packages with.')} {advice}", "error"
            )
            return redirect(url_for("submissions.outbox"))
        except (BundleError, OSError):
            db.session.rollback()
            path.unlink(missing_ok=True)
            current_app.logger.exception("The outbox package could not be written")
            flash(
                _(
                    "The package could not be written (is the server's disk full?). Nothing was "
                    "marked as sent: try again once the problem is fixed."
                ),
                "error",
            )
            return redirect(url_for("submissions.outbox"))
        db.session.commit()
        if report.path is None:
            flash(_("Nothing to send: every submission has reached the national team."), "info")
            return redirect(url_for("submissions.outbox"))
        return send_file(
            path, as_attachment=True, download_name=path.name, mimetype="application/octet-stream"
        )
    pending = {code: pending_submissions(code) for code in countries_with_pending()}
    return render_template("submissions/outbox.html", pending=pending)
