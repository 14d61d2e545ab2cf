"""National team pages: upload a ZIP of modules or of a course, read its report, publish it.

The plain form sends the ZIP in one request and works without JavaScript. ``upload.js``
sends it in pieces instead (start, chunk, status, finish), so that a large file survives a
dropped connection or a reload of the page.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge

from imaginecole.accounts.auth import current_user, editable_country, role_required
from imaginecole.curation.fields import FIELD_NAMES
from imaginecole.curation.operations import competency_groups
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.rendering.exercises import PROBLEM_TEXTS, problem_text
from imaginecole.uploads import chunks as chunks
from imaginecole.uploads import operations as service
from imaginecole.uploads.models import ContentUpload
from sync.content import EXERCISE_PROBLEM_PREFIX, OPEN_LICENCES
from sync.exercises import ExerciseProblem

bp = Blueprint("uploads", __name__, url_prefix="/<lang>/national", template_folder="templates")

FORM_ROOM = 2 * 1024 * 1024  # the form's other fields, around the file
CHUNK_SIZE = 1024 * 1024  # what upload.js sends at a time: one lost piece costs little
MAX_LEVELS = 30
MAX_COMPETENCIES = 30

# Why a ZIP was refused as a whole (nothing of it is kept).
ZIP_REFUSALS = {
    "not_zip": _l("This file is not a ZIP archive, or it is damaged."),
    "too_big": _l("The file is larger than the limit of %(limit)s MB."),
    "empty": _l("The ZIP archive is empty."),
    "too_many_files": _l("The ZIP archive holds too many files (at most %(files)s)."),
    "too_large_unpacked": _l("Once unpacked, the ZIP archive would be larger than %(limit)s MB."),
    "unsafe_name": _l(
        "The ZIP archive contains a file name that tries to leave its folder (“..”, a path starting with / or a drive letter)."
    ),
    "link": _l("The ZIP archive contains a link to another file; links are not accepted."),
    "special": _l("The ZIP archive contains an entry that is neither a file nor a folder."),
    "encrypted": _l("The ZIP archive is protected by a password; send it without one."),
    "bomb": _l(
        "The ZIP archive is malformed: its contents would unpack far beyond their declared size."
    ),
    "duplicate": _l("The ZIP archive holds two entries with the same name."),
    "corrupt": _l("The ZIP archive is damaged (a file in it cannot be read). Create it again."),
    "unsupported_compression": _l(
        "The ZIP archive uses a compression method we cannot read; create it with the usual “Compress” command."
    ),
    "no_space": _l("There is not enough free space on the server to unpack this archive."),
    "unknown_kind": _l(
        "Nothing recognisable was found: neither modules (module.toml files) nor Markdown pages (.md)."
    ),
    "no_curriculum": _l(
        "The curriculum of your country is not loaded on this server yet; upload it first (curriculum.toml)."
    ),
    "other_country": _l("This archive holds content of another country (%(detail)s)."),
    "interrupted": _l(
        "The check stopped before the end (the server restarted). Send the file again."
    ),
    "missing": _l("The files of this upload are no longer on the server. Send the file again."),
}
PUBLISH_REFUSALS = {
    "has_problems": _l(
        "This upload has problems: nothing was published. Correct them and send it again, or tick “publish only the valid modules”."
    ),
    "nothing_valid": _l("No module of this upload is valid: there is nothing to publish."),
    "not_publishable": _l("This upload has already been published, or can no longer be."),
    "missing": _l("The files of this upload are no longer on the server. Send the file again."),
    "unknown_choice": _l("Choose what to do with each module editors changed, then publish again."),
}
CHUNK_ERRORS = {
    "offset": _l("The server expected another part of the file."),
    "busy": _l("Another part of this file is being received."),
    "too_big": _l("The file is larger than announced or allowed."),
    "empty": _l("The file is empty."),
    "incomplete": _l("The file has not been received completely."),
    "bad_request": _l("The request is not valid."),
}
# Problems found by this server (not by the content checker), with what they need to say.
OWN_PROBLEMS = {
    "other_country_folder": _l(
        "this folder is the content of another country (%(other)s); it is ignored here."
    ),
    "no_modules": _l("no module was found in this folder."),
    "id_taken": _l("this module id is already used by a module of %(other)s; choose another id."),
    "version_older": _l(
        "version %(given)s is older than the version already published (%(loaded)s); raise it."
    ),
}
NOTES = {
    "version_not_raised": _l(
        "%(module)s: the content changed but its version is still %(version)s. Raise “version” in module.toml, or the next update bundle (delta) cannot be built."
    ),
}
# A short explanation of each field the checker names, for people who did not write the format.
FIELD_HELP = {
    "levels": _l(
        "Levels are the codes of your curriculum, written exactly as there (for example CM1 or 6e)."
    ),
    "subject": _l(
        "The subject is the short code of a subject of your curriculum, in lower case (for example mathematiques)."
    ),
    "competencies": _l(
        "Each competency is a code from your curriculum; check its spelling and capital letters."
    ),
    "assesses": _l(
        "Each competency assessed is a code from your curriculum; check its spelling and capital letters."
    ),
    "licence": _l(
        "The licence is the short code of an open licence we accept, for example CC-BY-SA-4.0 or CC-BY-4.0."
    ),
    "title": _l(
        "A module needs a title in its language; each lesson needs a first line starting with “# ” that gives its title."
    ),
    "summary": _l("A module needs a short summary in its language."),
    "media": _l(
        "An image or file a lesson shows is missing, outside the module's folder, or of a kind we do not accept (PNG, JPEG, GIF, WebP, MP3, OGG, MP4, WebM, PDF)."
    ),
    "id": _l(
        "The module id is the name of its folder: lower-case letters, digits and hyphens, starting with your country code."
    ),
    "version": _l("The version is a whole number, raised each time the module changes."),
    "language": _l("The language of the lessons: fr, en or ar."),
    "authors": _l("Name at least one author, in an [[authors]] section."),
    "resource_type": _l(
        "The kind of resource: lesson, exercise, activity, assessment, project, reference or course."
    ),
    "file name": _l(
        "Lesson files are named with a number and a name, like 01-my-lesson.md (a translation: 01-my-lesson.en.md)."
    ),
    "lessons": _l("A module needs at least one lesson file, like 01-my-lesson.md."),
}
STATUS_NAMES = {
    "checking": _l("Being checked"),
    "refused": _l("Refused"),
    "valid": _l("Valid, not yet published"),
    "problems": _l("Has problems, not yet published"),
    "publishing": _l("Being published"),
    "published": _l("Published"),
    "expired": _l("Expired (never published)"),
}
MODULE_STATES = {
    "new": _l("new"),
    "changed": _l("changed"),
    "unchanged": _l("unchanged"),
}
KIND_NAMES = {
    "content": _l("Modules in the content format"),
    "course": _l("Markdown course folder"),
}


def _upload_of(country: Country, upload_id: int) -> ContentUpload:
    record = db.session.get(ContentUpload, upload_id)
    if record is None or record.country_code != country.code:
        abort(404)
    return record


def _course_options(country: Country) -> dict:
    known_levels = {level.code for level in country.levels}
    return {
        "levels": [
            code for code in request.form.getlist("levels")[:MAX_LEVELS] if code in known_levels
        ],
        "subject": request.form.get("subject", "")[:80],
        "licence": request.form.get("licence", "")[:40],
        "id_prefix": request.form.get("id_prefix", "").strip()[:60],
        # Checked against the curriculum when the course is read; a wrong code is a problem
        # of the report, as with the command's --competency.
        "competencies": [
            code.strip()[:80]
            for code in request.form.getlist("competencies")[:MAX_COMPETENCIES]
            if code.strip()
        ],
    }


@bp.url_value_preprocessor
def allow_large_uploads(endpoint, values):
    # Runs before the CSRF check reads the form, so the limit applies to that reading too.
    if endpoint == "uploads.upload" and request.method == "POST":
        request.max_content_length = service.max_zip_bytes() + FORM_ROOM
    elif endpoint == "uploads.upload_chunk":
        request.max_content_length = chunks.CHUNK_LIMIT


@bp.context_processor
def upload_helpers():
    def problem_frame(problem: dict) -> str:
        values = {
            "path": problem.get("path"),
            "line": problem.get("line"),
            "field": problem.get("field"),
        }
        if not values["path"]:
            # The course settings chosen in the form (levels, subject …) are in no file.
            if values["field"]:
                return _("Settings of the upload, field %(field)s:", **values)
            return _("The archive as a whole:")
        if values["line"] and values["field"]:
            return _("File %(path)s, line %(line)s, field %(field)s:", **values)
        if values["line"]:
            return _("File %(path)s, line %(line)s:", **values)
        if values["field"]:
            return _("File %(path)s, field %(field)s:", **values)
        return _("File %(path)s:", **values)

    def own_problem(problem: dict) -> str:
        code = problem.get("code", "")
        if code.startswith(EXERCISE_PROBLEM_PREFIX):
            exercise_code = code.removeprefix(EXERCISE_PROBLEM_PREFIX)
            if exercise_code in PROBLEM_TEXTS:
                values = problem.get("values", {})
                return problem_text(ExerciseProblem(problem["line"], exercise_code, values))
            return problem.get("message", "")
        text = OWN_PROBLEMS.get(code)
        params = {k: v for k, v in problem.items() if k not in ("path", "line", "field", "code")}
        return str(text) % params if text is not None else problem.get("message", "")

    def field_help(name: str):
        return FIELD_HELP.get((name or "").split(".")[0])

    def note_text(note: dict) -> str:
        text = NOTES.get(note.get("code", ""))
        return str(text) % note if text is not None else ""

    return {
        "problem_frame": problem_frame,
        "own_problem": own_problem,
        "field_help": field_help,
        "note_text": note_text,
        "upload_status_name": lambda code: STATUS_NAMES.get(code, code),
        "module_state_name": lambda code: MODULE_STATES.get(code, code),
        "upload_kind_name": lambda code: KIND_NAMES.get(code, code),
        "field_name": lambda code: FIELD_NAMES.get(code, code),
    }


def _refusal_text(report: dict) -> str:
    code = report.get("error", "")
    text = ZIP_REFUSALS.get(code)
    if text is None:
        return ""
    return str(text) % {
        "limit": service.max_zip_bytes() // service.MiB
        if code == "too_big"
        else service.zip_limits().max_unpacked // service.MiB,
        "files": service.zip_limits().max_files,
        "detail": report.get("detail", ""),
    }


# ---------------------------------------------------------------------------- the plain form


def _upload_page(team: Country, error: str | None = None, status: int = 200):
    return render_template(
        "uploads/form.html",
        country=team,
        uploads=service.uploads_of(team.code),
        licences=OPEN_LICENCES,
        competency_groups=competency_groups(team.code),
        max_mb=service.max_zip_bytes() // service.MiB,
        chunk_size=CHUNK_SIZE,
        error=error,
    ), status


@bp.route("/<country>/upload", methods=["GET", "POST"])
@role_required("editor")
def upload(country: str):
    team = editable_country(country)
    if request.method == "POST":
        storage = request.files.get("file")
        if storage is None or not storage.filename:
            return _upload_page(team, _("Choose a ZIP file to send."), 400)
        record = service.receive_upload(
            team.code, current_user(), storage.filename, storage.stream, _course_options(team)
        )
        db.session.commit()
        return redirect(url_for("uploads.upload_report", country=team.code, upload_id=record.id))
    return _upload_page(team)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    # The plain form is refused while the CSRF check reads it, before the view runs: say why
    # on the form itself rather than on a bare error page.
    user = current_user()
    code = (request.view_args or {}).get("country") or ""
    country = db.session.get(Country, code) if code else None
    if (
        request.endpoint == "uploads.upload"
        and user is not None
        and user.role in ("editor", "admin")
        and country is not None
        and user.can_act_for(country.code)
    ):
        limit = service.max_zip_bytes() // service.MiB
        return _upload_page(
            country, _("The file is larger than the limit of %(limit)s MB.", limit=limit), 413
        )
    return render_template("errors/error.html", error=error), 413


# ---------------------------------------------------------------------------- pieces (upload.js)


def _chunk_error(code: str, status: int, size: int = 0, total: int = 0):
    return jsonify(
        error=code, message=str(CHUNK_ERRORS.get(code, code)), size=size, total=total
    ), status


def _partial_or_404(team: Country, token: str) -> chunks.Partial:
    partial = chunks.find_partial(token, team.code, current_user().id)
    if partial is None:
        abort(404)
    return partial


def _partial_answer(team: Country, partial: chunks.Partial) -> dict:
    answer = {"token": partial.token, "size": partial.received, "total": partial.size}
    if partial.upload_id is not None:
        answer["report_url"] = url_for(
            "uploads.upload_report", country=team.code, upload_id=partial.upload_id
        )
    return answer


@bp.route("/<country>/uploads/start", methods=["POST"])
@role_required("editor")
def upload_start(country: str):
    team = editable_country(country)
    try:
        size = int(request.form.get("size", ""))
        last_modified = int(request.form.get("last_modified") or 0)
    except ValueError:
        return _chunk_error("bad_request", 400)
    name = service.clean_file_name(request.form.get("name", ""))
    try:
        partial = chunks.start_partial(
            team.code, current_user().id, name, size, last_modified, service.max_zip_bytes()
        )
    except chunks.ChunkRefused as refusal:
        return _chunk_error(refusal.code, 413 if refusal.code == "too_big" else 400)
    return jsonify(_partial_answer(team, partial)), 201


@bp.route("/<country>/uploads/<token>/chunk", methods=["POST"])
@role_required("editor")
def upload_chunk(country: str, token: str):
    team = editable_country(country)
    partial = _partial_or_404(team, token)
    offset = request.args.get("offset", type=int)
    if offset is None or offset < 0:
        return _chunk_error("bad_request", 400, partial.received, partial.size)
    try:
        size = chunks.append_chunk(partial, offset, request.stream)
    except chunks.ChunkRefused as refusal:
        status = 413 if refusal.code == "too_big" else 409
        return _chunk_error(refusal.code, status, refusal.size, partial.size)
    return jsonify(size=size, total=partial.size)


@bp.route("/<country>/uploads/<token>/status")
@role_required("editor")
def upload_status(country: str, token: str):
    team = editable_country(country)
    partial = _partial_or_404(team, token)
    return jsonify(_partial_answer(team, partial))


@bp.route("/<country>/uploads/<token>/finish", methods=["POST"])
@role_required("editor")
def upload_finish(country: str, token: str):
    team = editable_country(country)
    partial = _partial_or_404(team, token)
    try:
        record = service.receive_partial(partial, current_user(), _course_options(team))
    except chunks.ChunkRefused as refusal:
        return _chunk_error(refusal.code, 409, refusal.size, partial.size)
    if record is None:
        abort(404)
    return jsonify(
        report_url=url_for("uploads.upload_report", country=team.code, upload_id=record.id),
        status=record.status,
    )


# ---------------------------------------------------------------------------- report and publishing


@bp.route("/<country>/uploads/<int:upload_id>")
@role_required("editor")
def upload_report(country: str, upload_id: int):
    team = editable_country(country)
    record = _upload_of(team, upload_id)
    return render_template(
        "uploads/report.html",
        country=team,
        upload=record,
        report=record.report or {},
        refusal=_refusal_text(record.report or {}),
        licences=OPEN_LICENCES,
        competency_groups=competency_groups(team.code),
    )


@bp.route("/<country>/uploads/<int:upload_id>/publish", methods=["POST"])
@role_required("editor")
def upload_publish(country: str, upload_id: int):
    team = editable_country(country)
    record = _upload_of(team, upload_id)
    try:
        report = service.publish_upload(
            record,
            current_user(),
            request.form.get("valid_only") == "1",
            {
                module["id"]: request.form[f"choice-{module['id']}"]
                for module in record.valid_modules
                if f"choice-{module['id']}" in request.form
            },
        )
    except service.PublishRefused as refusal:
        flash(str(PUBLISH_REFUSALS[refusal.code]), "error")
    else:
        flash(
            _(
                "Published: %(added)s modules added, %(updated)s updated, %(unchanged)s unchanged.",
                added=report.modules_added,
                updated=report.modules_updated,
                unchanged=report.modules_unchanged,
            ),
            "info",
        )
    return redirect(url_for("uploads.upload_report", country=team.code, upload_id=record.id))


@bp.route("/<country>/uploads/<int:upload_id>/options", methods=["POST"])
@role_required("editor")
def upload_recheck(country: str, upload_id: int):
    team = editable_country(country)
    record = _upload_of(team, upload_id)
    try:
        service.recheck_course(record, _course_options(team))
    except service.PublishRefused as refusal:
        flash(str(PUBLISH_REFUSALS[refusal.code]), "error")
    else:
        db.session.commit()
    return redirect(url_for("uploads.upload_report", country=team.code, upload_id=record.id))
