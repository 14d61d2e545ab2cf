"""Review pages for national editors: the queue of their country, reading, scoring, deciding."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.curation.operations import competency_groups, record_version
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.extensions import db
from imaginecole.form_errors import PROBLEM_TEXTS
from imaginecole.i18n import current_language
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
# What each score means, per criterion, from 1 (weak) to 4 (excellent).
DESCRIPTORS = {
    "curriculum_fit": (
        _l("Matches no competency of the classes given."),
        _l("Touches the competencies given, with much beside them."),
        _l("Teaches the competencies given, with small gaps."),
        _l("Teaches exactly the competencies of the classes given."),
    ),
    "accuracy": (
        _l("Contains serious errors."),
        _l("Contains a few errors to correct."),
        _l("Correct, with small inaccuracies."),
        _l("Correct throughout."),
    ),
    "pedagogy": (
        _l("Hard to follow for pupils."),
        _l("Can be followed, with little practice."),
        _l("Clear, with examples or exercises."),
        _l("Clear, progressive, with examples and exercises."),
    ),
    "accessibility": (
        _l("Many pupils cannot use it (unreadable text, images without description)."),
        _l("Some parts exclude pupils."),
        _l("Usable by most pupils."),
        _l("Usable by every pupil, also on a phone or read aloud."),
    ),
    "licence": (
        _l("Sources or licence unknown: cannot be published."),
        _l("Sources partly named."),
        _l("Sources named, licence fits."),
        _l("Every source named, licence fits."),
    ),
}
DECISION_NAMES = {
    "accept": _l("Accept and publish"),
    "changes": _l("Ask for changes"),
    "reject": _l("Reject"),
}
OUTCOME_NAMES = {
    "pending": _l("waiting for the second reviewer"),
    "confirmed": _l("confirmed by the second reviewer"),
    "disagreed": _l("the second reviewer disagreed"),
    "released": _l("set aside when the resource was released"),
}
REVIEW_PROBLEMS = {
    **PROBLEM_TEXTS,
    "withdrawn": _l("The teacher withdrew this resource."),
    "stale": _l(
        "The teacher sent a newer version while you were reviewing. Read it below, then decide "
        "again; what you typed is still in the form."
    ),
    "claimed": _l("Another reviewer has this resource. Ask them, or an admin, to release it."),
    "not_yours": _l("Only the reviewer who has this resource, or an admin, can do this."),
    "closed": _l("This resource is no longer waiting for a review."),
    "no_first_review": _l("The first reviewer has not decided yet: there is nothing to confirm."),
    "waiting_second": _l("Your decision is waiting for the second reviewer."),
}


def _country_of_reviewer(requested: str | None) -> Country:
    user = current_user()
    code = user.country_code if not user.manages_all else (requested or user.country_code)
    if code is None and user.manages_all:
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


@bp.app_context_processor
def review_helpers():
    return {
        "decision_name": lambda code: DECISION_NAMES.get(code, code),
        "outcome_name": lambda code: OUTCOME_NAMES.get(code, code),
    }


@bp.route("/")
@role_required("editor")
def queue():
    country = _country_of_reviewer(request.args.get("country"))
    status = request.args.get("status", "received")
    flag = request.args.get("flag", "")
    items = service.review_queue(country.code, status if status != "all" else "", flag)
    assignments = service.assignments_of(items)
    assigned = request.args.get("assigned", "")
    if assigned == "mine":
        me = current_user().id
        items = [
            s
            for s in items
            if s.id in assignments
            and me in (assignments[s.id].reviewer_id, assignments[s.id].second_reviewer_id)
        ]
    elif assigned == "nobody":
        items = [s for s in items if s.id not in assignments]
    return render_template(
        "review/queue.html",
        country=country,
        items=items,
        status=status,
        flag=flag,
        assigned=assigned,
        assignments=assignments,
        subjects=_subject_names(country.code),
    )


def _subject_names(country: str) -> dict[str, str]:
    """Return the name of each subject of ``country`` in the reader's language, by slug."""
    rows = db.session.scalars(select(Subject).filter_by(country_code=country))
    return {row.slug: row.shown(current_language()).text for row in rows}


def _list_field(name: str) -> list[str]:
    return sorted({value for value in request.form.getlist(name) if value})


def _edits_from_form(revision) -> dict:
    """Return what the reviewer changed in the form, against the revision shown."""
    edits: dict = {}
    for key in ("title", "summary", "markdown"):
        value = request.form.get(key, "")
        if value and value.replace("\r\n", "\n") != getattr(revision, key):
            edits[key] = value.replace("\r\n", "\n")
    if "fix_classification" in request.form:
        levels = _list_field("levels")
        if levels != sorted(revision.levels):
            edits["levels"] = levels
        subject = request.form.get("subject", "")
        if subject != revision.subject:
            edits["subject"] = subject
        competencies = _list_field("competencies")
        if competencies != sorted(revision.competencies):
            edits["competencies"] = competencies
    return edits


def _problem_texts(problems: dict[str, str]) -> dict[str, str]:
    return {k: str(REVIEW_PROBLEMS.get(v, v)) for k, v in problems.items()}


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
        try:
            review = service.decide(
                submission,
                current_user(),
                scores,
                request.form.get("decision", ""),
                request.form.get("comment", "")[:5000],
                _edits_from_form(submission.latest),
                expected_revision=request.form.get("revision") or None,
            )
        except service.ReviewError as error:
            problems = _problem_texts(error.problems)
        else:
            published = submission.status == "accepted" and submission.module_uid
            if published:
                module = db.session.scalar(select(Module).filter_by(uid=submission.module_uid))
                record_version(module, "review", current_user(), f"submission {submission.uid}")
            db.session.commit()
            if published:
                sync_index()  # after the commit: the index follows the database
            if review.stage == "first":
                message = _("Decision recorded. It takes effect when the second reviewer agrees.")
            elif review.stage == "second" and review.decision != submission_decision(submission):
                message = _(
                    "You disagree with the first reviewer: the resource goes back to the queue "
                    "with both reviews shown."
                )
            else:
                message = _(
                    "Decision recorded. The teacher will see it after the next bundle reaches "
                    "the school."
                )
            flash(message, "info")
            return redirect(url_for("review.queue"))
    return _item_page(submission, problems)


def submission_decision(submission: Submission) -> str:
    """Return the decision in effect for ``submission`` ('' while it waits for one)."""
    reverse = {status: decision for decision, status in service.STATUS_OF_DECISION.items()}
    return reverse.get(submission.status, "")


def _item_page(submission: Submission, problems: dict[str, str] | None = None):
    latest = submission.latest
    html = render_with_files(latest.markdown, latest.files, latest.language)
    country = submission.country_code
    parents = {r.parent_uid for r in submission.revisions}
    heads = [r for r in submission.revisions if r.uid not in parents]
    return render_template(
        "review/item.html",
        submission=submission,
        latest=latest,
        html=html,
        criteria=CRITERIA,
        descriptors=DESCRIPTORS,
        problems=problems or {},
        form=request.form,
        assignment=service.assignment_of(submission),
        first_review=service.pending_first_review(submission),
        reviewers=service.reviewers_of(country),
        subjects=_subject_names(country),
        curriculum_levels=db.session.scalars(
            select(Level).filter_by(country_code=country).order_by(Level.position)
        ).all(),
        competency_groups=competency_groups(country),
        conflict_heads=sorted(heads, key=lambda r: (r.created, r.uid))
        if submission.conflict
        else [],
    ), (400 if problems else 200)


def _assignment_action(uid: str, action) -> object:
    submission = _reviewable(uid)
    try:
        message = action(submission)
    except service.ReviewError as error:
        for text in _problem_texts(error.problems).values():
            flash(text, "error")
    else:
        db.session.commit()
        flash(message, "info")
    return redirect(url_for("review.item", uid=uid))


@bp.route("/<uid>/claim", methods=["POST"])
@role_required("editor")
def claim(uid: str):
    def act(submission: Submission) -> str:
        service.claim(submission, current_user())
        return _("You review this resource now. Others see it is yours.")

    return _assignment_action(uid, act)


@bp.route("/<uid>/release", methods=["POST"])
@role_required("editor")
def release(uid: str):
    def act(submission: Submission) -> str:
        service.release(submission, current_user())
        return _("Released: the resource is back in the queue for any reviewer.")

    return _assignment_action(uid, act)


@bp.route("/<uid>/second", methods=["POST"])
@role_required("editor")
def second_reviewer(uid: str):
    def act(submission: Submission) -> str:
        chosen = request.form.get("second_reviewer", "")
        second = db.session.get(User, int(chosen)) if chosen.isdigit() else None
        if chosen and second is None:
            raise service.ReviewError({"second_reviewer": "invalid"})
        service.set_second_reviewer(submission, current_user(), second)
        if second is None:
            return _("No second reviewer: your decision takes effect at once.")
        return _("%(name)s will confirm your decision before it takes effect.", name=second.name)

    return _assignment_action(uid, act)


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
                only = None if current_user().manages_all else current_user().country_code
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
