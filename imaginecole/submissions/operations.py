"""Teachers' submissions on the school server: drafts, revisions, submitting and withdrawing.

Each save that changes something is a new revision whose id is fixed by its content and its
parent (``sync.submissions``), so the national server can merge packages in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.curriculum.models import Competency, Level, Subject
from imaginecole.extensions import db
from imaginecole.form_errors import FormProblems
from imaginecole.submissions.models import (
    OPEN_LICENCES_FOR_TEACHERS,
    Revision,
    Submission,
    TeacherFile,
)
from sync.content import LANGUAGES
from sync.exercises import exercise_problems
from sync.submissions import (
    FileRef,
    InvalidText,
    RevisionData,
    make_revision,
    new_submission_uid,
    validate_text,
)

MAX_TITLE = 300
MAX_SUMMARY = 2000
MAX_MARKDOWN = 200_000


class SubmissionError(FormProblems):
    """A submission that cannot be saved as it is."""


@dataclass
class SubmissionForm:
    """What a teacher typed, as plain values (the view fills it from the request)."""

    title: str = ""
    summary: str = ""
    language: str = "fr"
    levels: list[str] = field(default_factory=list)
    subject: str = ""
    competencies: list[str] = field(default_factory=list)
    licence: str = ""
    markdown: str = ""
    upload_ids: list[int] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate(form: SubmissionForm, user: User) -> tuple[dict[str, str], list[TeacherFile]]:
    """Return the problems of ``form`` (field -> code) and the uploads it refers to."""
    problems: dict[str, str] = {}
    country = user.country_code
    for name, limit in (("title", MAX_TITLE), ("summary", MAX_SUMMARY), ("markdown", MAX_MARKDOWN)):
        value = getattr(form, name)
        try:
            validate_text(value, name)
        except InvalidText:
            problems[name] = "invalid_text"
            continue
        if not value.strip():
            problems[name] = "required"
        elif len(value) > limit:
            problems[name] = "too_long"
    if "markdown" not in problems and exercise_problems(form.markdown.replace("\r\n", "\n")):
        problems["markdown"] = "exercise"
    if form.language not in LANGUAGES:
        problems["language"] = "invalid"
    known_levels = set(db.session.scalars(select(Level.code).filter_by(country_code=country)))
    if not form.levels:
        problems["levels"] = "required"
    elif not set(form.levels) <= known_levels:
        problems["levels"] = "invalid"
    if not db.session.scalar(select(Subject.id).filter_by(country_code=country, slug=form.subject)):
        problems["subject"] = "required" if not form.subject else "invalid"
    known = set(db.session.scalars(select(Competency.code).filter_by(country_code=country)))
    if not set(form.competencies) <= known:
        problems["competencies"] = "invalid"
    if form.licence not in OPEN_LICENCES_FOR_TEACHERS:
        problems["licence"] = "required"  # no licence, no submission
    uploads = list(
        db.session.scalars(
            select(TeacherFile).where(
                TeacherFile.id.in_(form.upload_ids), TeacherFile.user_id == user.id
            )
        )
    )
    if len(uploads) != len(set(form.upload_ids)):
        problems["files"] = "invalid"
    return problems, uploads


def _revision_data(
    submission_uid: str, form: SubmissionForm, uploads: list[TeacherFile], parent_uid: str | None
) -> RevisionData:
    unique = {u.sha256: u for u in uploads}.values()  # the same file attached twice counts once
    files = [
        FileRef(sha256=u.sha256, name=u.name, media_type=u.media_type, size=u.size) for u in unique
    ]
    return make_revision(
        submission_uid,
        parent_uid,
        title=form.title.strip(),
        summary=form.summary.strip(),
        language=form.language,
        levels=sorted(set(form.levels)),
        subject=form.subject,
        competencies=sorted(set(form.competencies)),
        licence=form.licence,
        markdown=form.markdown.replace("\r\n", "\n"),
        files=sorted(files, key=lambda f: (f.name, f.sha256)),
        created=_now(),
    )


def add_revision(submission: Submission, data: RevisionData) -> Revision:
    """Store a revision (as made here or received in a package) under its submission."""
    revision = Revision(
        uid=data.uid,
        parent_uid=data.parent_uid,
        content_hash=data.content_hash(),
        title=data.title,
        summary=data.summary,
        language=data.language,
        levels=data.levels,
        subject=data.subject,
        competencies=data.competencies,
        licence=data.licence,
        markdown=data.markdown,
        files=[f.to_data() for f in data.files],
        created=data.created,
    )
    submission.revisions.append(revision)
    return revision


def create_submission(user: User, form: SubmissionForm) -> Submission:
    """Start a draft with its first revision; raise SubmissionError listing every problem."""
    problems, uploads = validate(form, user)
    if problems:
        raise SubmissionError(problems)
    submission = Submission(
        uid=new_submission_uid(),
        country_code=user.country_code,
        author_id=user.id,
        teacher_name=user.name,
    )
    add_revision(submission, _revision_data(submission.uid, form, uploads, None))
    db.session.add(submission)
    db.session.flush()
    return submission


def save_revision(submission: Submission, user: User, form: SubmissionForm) -> bool:
    """Record the form as a new revision; return False when nothing changed."""
    if not submission.editable:
        raise SubmissionError({"status": "locked"})
    problems, uploads = validate(form, user)
    if problems:
        raise SubmissionError(problems)
    latest = submission.latest
    data = _revision_data(submission.uid, form, uploads, latest.uid)
    if data.content_hash() == latest.content_hash:
        return False
    add_revision(submission, data)
    if submission.status == "changes_requested":
        submission.status = "draft"  # the teacher answers the reviewer by submitting again
    db.session.flush()
    return True


def submit(submission: Submission) -> None:
    if submission.status in ("draft", "changes_requested"):
        submission.status = "submitted"
        db.session.flush()


def withdraw(submission: Submission) -> None:
    if submission.status not in ("accepted", "rejected", "withdrawn"):
        submission.status = "withdrawn"
        db.session.flush()


def form_from(revision: Revision) -> SubmissionForm:
    """Return a form filled with a revision, for editing it."""
    return SubmissionForm(
        title=revision.title,
        summary=revision.summary,
        language=revision.language,
        levels=list(revision.levels),
        subject=revision.subject,
        competencies=list(revision.competencies),
        licence=revision.licence,
        markdown=revision.markdown,
    )


def submissions_of(user: User) -> list[Submission]:
    return list(
        db.session.scalars(
            select(Submission).filter_by(author_id=user.id).order_by(Submission.updated_at.desc())
        )
    )


def get_own(user: User, uid: str) -> Submission | None:
    """Return the submission ``uid`` only if ``user`` wrote it."""
    return db.session.scalar(select(Submission).filter_by(uid=uid, author_id=user.id))
