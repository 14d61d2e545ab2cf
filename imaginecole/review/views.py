"""Review pages for national editors: the queue of their country, reading, scoring, deciding."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.form_errors import PROBLEM_TEXTS
from imaginecole.review import operations as service
from imaginecole.review.models import RUBRIC
from imaginecole.search.indexing import sync_index
from imaginecole.submissions.files import render_with_files
from imaginecole.submissions.models import Submission
from sync.bundle import BundleError
from sync.submissions import PACKAGE_SUFFIX

bp = Blueprint("review", __name__, url_prefix="/<lang>/review", template_folder="templates")

CRITERIA = {
    "curriculum_fit": _l("Fits the curriculum"),
    "accuracy": _l("Accurate"),
    "pedagogy": _l("Teaches well"),
    "accessibility": _l("Accessible to every pupil"),
    "licence": _l("Licence and sources in order"),
}
REVIEW_PROBLEMS = {**PROBLEM_TEXTS, "withdrawn": _l("The teacher withdrew this resource.")}


def _country_of_reviewer(requested: str | None) -> Country:
    user = current_user()
    code = user.country_code if user.role != "admin" else (requested or user.country_code)
    if code is None and user.role == "admin":
        # An admin acts for every country: without one asked for, show the first one loaded.
        code = db.session.scalar(select(Country.code).order_by(Country.code).limit(1))
    country = db.session.get(Country, code) if code else None
    if country is None:
        abort(404)
    return country


def _reviewable(uid: str) -> Submission:
    submission = db.session.scalar(
        select(Submission).where(Submission.uid == uid, Submission.school_key_id.is_not(None))
    )
    # A reviewer of another country sees nothing, not even that it exists. A withdrawal whose
    # work never arrived has nothing to read either.
    if (
        submission is None
        or not submission.revisions
        or not current_user().can_act_for(submission.country_code)
    ):
        abort(404)
    return submission


@bp.route("/")
@role_required("editor")
def queue():
    country = _country_of_reviewer(request.args.get("country"))
    status = request.args.get("status", "received")
    flag = request.args.get("flag", "")
    items = service.review_queue(country.code, status if status != "all" else "", flag)
    return render_template(
        "review/queue.html", country=country, items=items, status=status, flag=flag
    )


@bp.route("/<uid>", methods=["GET", "POST"])
@role_required("editor")
def item(uid: str):
    submission = _reviewable(uid)
    problems: dict[str, str] = {}
    if request.method == "POST":
        scores = {}
        for criterion in RUBRIC:
            value = request.form.get(f"score_{criterion}", "")
            scores[criterion] = int(value) if value.isdigit() else 0
        edits = {
            key: request.form.get(key, "")
            for key in ("title", "summary", "markdown")
            if request.form.get(key, "")
            and request.form.get(key) != getattr(submission.latest, key)
        }
        try:
            review = service.decide(
                submission,
                current_user(),
                scores,
                request.form.get("decision", ""),
                request.form.get("comment", "")[:5000],
                edits,
            )
        except service.ReviewError as error:
            problems = {k: str(REVIEW_PROBLEMS.get(v, v)) for k, v in error.problems.items()}
        else:
            db.session.commit()
            if review.decision == "accept":
                sync_index()  # after the commit: the index follows the database
            flash(
                _(
                    "Decision recorded. The teacher will see it after the next bundle reaches the school."
                ),
                "info",
            )
            return redirect(url_for("review.queue"))
    latest = submission.latest
    html = render_with_files(latest.markdown, latest.files, latest.language)
    return render_template(
        "review/item.html",
        submission=submission,
        latest=latest,
        html=html,
        criteria=CRITERIA,
        problems=problems,
        form=request.form,
    ), (400 if problems else 200)


@bp.route("/packages", methods=["GET", "POST"])
@role_required("editor")
def packages():
    if request.method == "POST":
        upload = request.files.get("package")
        if not upload or not upload.filename:
            flash(_("Choose the package file the school sent."), "error")
            return redirect(url_for("review.packages"))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"package{PACKAGE_SUFFIX}"
            upload.save(path)
            try:
                only = None if current_user().role == "admin" else current_user().country_code
                report = service.import_package(path, only_country=only)
            except service.ForeignPackage:
                reason = _(
                    "This package comes from a school server of another country: only that "
                    "country's team can merge it. Nothing was changed."
                )
                return render_template("review/package_refused.html", reason=reason), 400
            except BundleError as error:
                return render_template("review/package_refused.html", detail=str(error)), 400
        flash(
            _(
                "Package from %(school)s merged: %(new)s new, %(updated)s updated, %(same)s already received, %(conflict)s in conflict.",
                school=report.school_name,
                new=report.result.count("new"),
                updated=report.result.count("updated"),
                same=report.result.count("already_received"),
                conflict=report.result.count("conflict"),
            ),
            "info",
        )
        return redirect(url_for("review.queue"))
    return render_template("review/packages.html")
