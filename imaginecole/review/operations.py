"""National server side of submissions: enrolled schools, merging packages, reviewing.

``sync.submissions`` reads packages and decides merges as pure functions; this module applies
those decisions in one transaction. Who sent a submission (school, country, teacher) comes from
the enrolled key that signed the package, never from what the package says.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from imaginecole.accounts.models import User
from imaginecole.content.operations import LoadReport, load_module
from imaginecole.curriculum.models import Competency, Level, Subject
from imaginecole.datadir import import_lock
from imaginecole.extensions import db
from imaginecole.form_errors import FormProblems
from imaginecole.media.operations import blob_store
from imaginecole.review.models import (
    RUBRIC,
    EnrolledSchool,
    ReceivedPackage,
    Review,
    ReviewAssignment,
)
from imaginecole.submissions.models import Revision, Submission
from imaginecole.submissions.operations import add_revision
from sync import model as fmt
from sync.bundle import BundleError, PublicKey, SubmissionStatus
from sync.bundle.manifest import NO_REVISION
from sync.container.keys import DEEP
from sync.markdown import local_targets
from sync.submissions import (
    REFUSED,
    EnrolledKeys,
    EnrolmentFileError,
    KnownRevision,
    KnownSubmission,
    MergeResult,
    UnknownSchool,
    merge,
    parse_enrolled,
    read_package,
    verify_package,
)
from sync.text import slugify

DECISIONS = ("accept", "changes", "reject")
REVIEWING_ROLES = ("editor", "admin")
# What a reviewer may fix before publishing, besides the text.
EDITABLE = ("title", "summary", "markdown", "levels", "subject", "competencies")
STATUS_OF_DECISION = {"accept": "accepted", "changes": "changes_requested", "reject": "rejected"}


class ReviewError(FormProblems):
    """A review that cannot be recorded."""


@dataclass
class PackageReport:
    school_name: str
    country: str
    already_received: bool = False
    result: MergeResult | None = None


# ---------------------------------------------------------------------------- enrolment


def enroll_schools(toml_text: str) -> list[EnrolledSchool]:
    """Enrol the school servers described in an enrolment file (see docs/submission-package.md)."""
    try:
        data = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as error:
        raise EnrolmentFileError(f"enrolment file: not valid TOML: {error}") from error
    except RecursionError:
        raise EnrolmentFileError(f"enrolment file: not valid TOML: it {DEEP}") from None
    parsed = parse_enrolled(data)
    rows = []
    for school in parsed.schools.values():
        values = {
            "public_key": school.public_key.to_base64(),
            "name": school.name,
            "country_code": school.country,
        }
        row = db.session.get(EnrolledSchool, school.key_id) or _insert_enrolment(
            school.key_id, values
        )
        for name, value in values.items():
            setattr(row, name, value)
        rows.append(row)
    db.session.flush()
    return rows


def _insert_enrolment(key_id: str, values: dict[str, str]) -> EnrolledSchool:
    """Insert a school's row; when another process enrolled it meanwhile, return that row."""
    try:
        with db.session.begin_nested():
            row = EnrolledSchool(key_id=key_id, **values)
            db.session.add(row)
        return row
    except IntegrityError:
        # Two enrolments of one file at once: theirs is committed now, and updated like ours.
        return db.session.get(EnrolledSchool, key_id, populate_existing=True)


def enrolled_keys() -> EnrolledKeys:
    keys = EnrolledKeys()
    for row in db.session.scalars(select(EnrolledSchool)):
        keys.add(PublicKey.from_base64(row.public_key), row.country_code, row.name)
    return keys


# ---------------------------------------------------------------------------- merging packages


def _known(country: str) -> dict[str, KnownSubmission]:
    rows = db.session.scalars(
        select(Submission).where(
            Submission.country_code == country, Submission.school_key_id.is_not(None)
        )
    )
    return {
        s.uid: KnownSubmission(
            uid=s.uid,
            school_key_id=s.school_key_id,
            revisions=[KnownRevision(r.uid, r.parent_uid, r.content_hash) for r in s.revisions],
            withdrawn=s.status == "withdrawn",
            status=s.status,
            teacher_id=s.teacher_ref.split(":", 1)[-1] or None,
        )
        for s in rows
    }


class ForeignPackage(BundleError):
    """An editor tried to merge a package from a school of another country."""


def _read(path, enrolled: EnrolledKeys, only_country: str | None):
    """Read a package, refusing one from another country's school before any file is copied."""
    if not only_country:
        return read_package(path, enrolled, blob_store())
    own = EnrolledKeys({k: s for k, s in enrolled.schools.items() if s.country == only_country})
    try:
        return read_package(path, own, blob_store())
    except UnknownSchool as error:
        school = enrolled.get(error.key_id)
        if school is None:
            raise
        verify_package(path, enrolled)  # writes nothing; raises if the package is not genuine
        # Which school, and of which country, is not this editor's business.
        raise ForeignPackage(
            "the package comes from a school server of another country; only that country's "
            "team can merge it"
        ) from None


def import_package(path, only_country: str | None = None) -> PackageReport:
    """Check a submission package and merge it, committed; a refused package changes nothing.

    ``only_country`` limits an editor to the schools of their own country. The merge commits
    before the import lock is released: a merge started next must find this one's rows.
    """
    enrolled = enrolled_keys()
    with import_lock():
        received = _read(path, enrolled, only_country)
        report = PackageReport(school_name=received.school_name, country=received.country)
        if db.session.get(ReceivedPackage, received.manifest_sha256) is not None:
            report.already_received = True
        result = merge(_known(received.country), received)
        report.result = result
        try:
            _apply(received, result)
            if not report.already_received:
                db.session.add(
                    ReceivedPackage(
                        manifest_sha256=received.manifest_sha256,
                        school_key_id=received.school_key_id,
                    )
                )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return report


def _parents_first(revisions: list) -> list:
    """Return ``revisions`` with each one after the revision it was edited from.

    ``merge`` lists new revisions in the order of their uids, while the newest revision of a
    submission is the last one stored (``Submission.latest``): a package carrying an edit and
    the revision it was edited from must store the older one first, whatever their uids.
    """
    waiting = list(revisions)
    ordered: list = []
    while waiting:
        pending = {r.uid for r in waiting}
        ready = [r for r in waiting if r.parent_uid not in pending] or waiting
        ordered += ready
        done = {r.uid for r in ready}
        waiting = [r for r in waiting if r.uid not in done]
    return ordered


def _apply(received, result: MergeResult) -> None:
    for decision in result.decisions:
        if decision.kind == REFUSED:
            continue
        submission = db.session.scalar(select(Submission).filter_by(uid=decision.submission_uid))
        if submission is None:
            sent = decision.submission
            submission = Submission(
                uid=decision.submission_uid,
                country_code=received.country,
                school_key_id=received.school_key_id,
                school_name=received.school_name,
                teacher_ref=f"{received.school_key_id}:{sent.teacher_id}",
                teacher_name=sent.teacher_name[:200],
            )
            db.session.add(submission)
        for data in _parents_first(decision.new_revisions):
            add_revision(submission, data)
        submission.conflict = decision.conflict
        submission.status = (
            "withdrawn" if decision.withdrawn else (decision.status or submission.status)
        )
    db.session.flush()
    for submission in db.session.scalars(
        select(Submission).filter_by(country_code=received.country)
    ):
        if submission.school_key_id is not None:
            submission.duplicate_of = result.duplicates.get(submission.uid)


# ---------------------------------------------------------------------------- reviewing


def review_queue(country: str, status: str = "received", flag: str = "") -> list[Submission]:
    query = select(Submission).where(
        Submission.country_code == country,
        Submission.school_key_id.is_not(None),
        # A withdrawal can arrive before (or instead of) the work it withdraws: nothing to show.
        Submission.revisions.any(),
    )
    if status:
        query = query.where(Submission.status == status)
    if flag == "conflict":
        query = query.where(Submission.conflict.is_(True))
    elif flag == "duplicate":
        query = query.where(Submission.duplicate_of.is_not(None))
    return list(db.session.scalars(query.order_by(Submission.created_at)))


def can_review(user: User | None, country: str) -> bool:
    """Return whether ``user`` may review the submissions of ``country``."""
    return (
        user is not None
        and not user.disabled
        and user.role in REVIEWING_ROLES
        and user.can_act_for(country)
    )


def _check_reviewer(reviewer: User, submission: Submission) -> None:
    if not can_review(reviewer, submission.country_code):
        raise PermissionError("this reviewer cannot act for this country")


def assignment_of(submission: Submission) -> ReviewAssignment | None:
    return db.session.get(ReviewAssignment, submission.id)


def assignments_of(submissions: list[Submission]) -> dict[int, ReviewAssignment]:
    """Return the assignment of each of ``submissions`` that has one, by submission id."""
    ids = [submission.id for submission in submissions]
    rows = db.session.scalars(
        select(ReviewAssignment)
        .where(ReviewAssignment.submission_id.in_(ids))
        .options(
            selectinload(ReviewAssignment.reviewer), selectinload(ReviewAssignment.second_reviewer)
        )
    )
    return {row.submission_id: row for row in rows}


def claim(submission: Submission, reviewer: User) -> ReviewAssignment:
    """Make ``reviewer`` the one who reviews ``submission``; refused when someone else has it."""
    _check_reviewer(reviewer, submission)
    if submission.status == "withdrawn":
        raise ReviewError({"claim": "closed"})
    row = assignment_of(submission)
    if row is not None:
        if row.reviewer_id == reviewer.id:
            return row
        raise ReviewError({"claim": "claimed"})
    try:
        with db.session.begin_nested():
            row = ReviewAssignment(submission_id=submission.id, reviewer_id=reviewer.id)
            db.session.add(row)
    except IntegrityError:
        # Another reviewer claimed it at the same moment; theirs is committed.
        raise ReviewError({"claim": "claimed"}) from None
    return row


def release(submission: Submission, reviewer: User) -> bool:
    """Give ``submission`` back to the queue; False when nobody had it.

    Only the reviewer who has it, or an admin, may. A first review still waiting for the
    second reviewer is set aside: the next reviewer starts again.
    """
    _check_reviewer(reviewer, submission)
    row = assignment_of(submission)
    if row is None:
        return False
    if row.reviewer_id != reviewer.id and reviewer.role != "admin":
        raise ReviewError({"claim": "not_yours"})
    waiting = pending_first_review(submission)
    if waiting is not None:
        waiting.outcome = "released"
    db.session.delete(row)
    db.session.flush()
    return True


def set_second_reviewer(submission: Submission, reviewer: User, second: User | None) -> None:
    """Ask ``second`` to confirm the decision of the reviewer who has ``submission`` (None: nobody)."""
    _check_reviewer(reviewer, submission)
    row = assignment_of(submission)
    if row is None or (row.reviewer_id != reviewer.id and reviewer.role != "admin"):
        raise ReviewError({"second_reviewer": "not_yours"})
    if second is not None and (
        not can_review(second, submission.country_code) or second.id == row.reviewer_id
    ):
        raise ReviewError({"second_reviewer": "invalid"})
    row.second_reviewer_id = second.id if second is not None else None
    db.session.flush()


def reviewers_of(country: str) -> list[User]:
    """Return the accounts that may review the submissions of ``country``, by name."""
    users = db.session.scalars(
        select(User).where(User.role.in_(REVIEWING_ROLES)).order_by(User.name, User.id)
    )
    return [user for user in users if can_review(user, country)]


def pending_first_review(submission: Submission) -> Review | None:
    """Return the first review of the newest revision still waiting for the second reviewer."""
    for review in reversed(submission.reviews):
        if review.stage == "first" and review.outcome == "pending":
            return review
    return None


def _check_edits(submission: Submission, edits: dict, problems: dict[str, str]) -> None:
    country = submission.country_code
    if "levels" in edits:
        known = set(db.session.scalars(select(Level.code).filter_by(country_code=country)))
        if not edits["levels"]:
            problems["levels"] = "required"
        elif not set(edits["levels"]) <= known:
            problems["levels"] = "invalid"
    if "subject" in edits and not db.session.scalar(
        select(Subject.id).filter_by(country_code=country, slug=edits["subject"])
    ):
        problems["subject"] = "invalid"
    if "competencies" in edits:
        known = set(db.session.scalars(select(Competency.code).filter_by(country_code=country)))
        if not set(edits["competencies"]) <= known:
            problems["competencies"] = "invalid"
    for name in ("title", "markdown"):
        if name in edits and not str(edits[name]).strip():
            problems[name] = "required"


def decide(
    submission: Submission,
    reviewer: User,
    scores: dict[str, int],
    decision: str,
    comment: str,
    edits: dict | None = None,
    *,
    expected_revision: str | None = None,
) -> Review:
    """Record a reviewer's decision; accepting publishes the resource as a module of the country.

    The reviewer claims the submission unless someone else has it (refused). With a second
    reviewer, the first decision waits for theirs: the same decision takes effect (with the
    first reviewer's message and edits), another one sends it back to the queue with both
    reviews shown. ``expected_revision`` is the revision the form showed: a newer one arrived
    meanwhile is refused, so that nobody decides on work they have not read.
    """
    _check_reviewer(reviewer, submission)
    edits = {key: value for key, value in (edits or {}).items() if key in EDITABLE}
    problems: dict[str, str] = {}
    if decision not in DECISIONS:
        problems["decision"] = "required"
    for criterion in RUBRIC:
        if scores.get(criterion) not in (1, 2, 3, 4):
            problems[f"score_{criterion}"] = "required"
    if decision in ("changes", "reject") and not comment.strip():
        problems["comment"] = "required"  # a teacher deserves to know why
    _check_edits(submission, edits, problems)
    if submission.status == "withdrawn":
        problems["decision"] = "withdrawn"
    revision = submission.latest
    if expected_revision and expected_revision != revision.uid:
        problems["decision"] = "stale"
    row = assignment_of(submission)
    if row is not None and reviewer.id not in (row.reviewer_id, row.second_reviewer_id):
        problems["decision"] = "claimed"
    first = pending_first_review(submission)
    second_reviewing = row is not None and row.second_reviewer_id == reviewer.id
    if second_reviewing and first is None:
        problems["decision"] = "no_first_review"
    if not second_reviewing and first is not None:
        problems["decision"] = "waiting_second"
    if problems:
        raise ReviewError(problems)
    if row is None:
        row = claim(submission, reviewer)
    stage = "second" if second_reviewing else "first" if row.second_reviewer_id else "single"
    review = Review(
        submission_id=submission.id,
        reviewer_id=reviewer.id,
        revision_uid=revision.uid,
        scores=scores,
        decision=decision,
        comment=comment.strip(),
        stage=stage,
        outcome="pending" if stage == "first" else "",
        edits=edits,
    )
    db.session.add(review)
    submission.reviews.append(review)
    if stage == "single":
        _apply_decision(submission, revision, decision, review.comment, edits)
    elif stage == "second":
        if decision == first.decision:
            first.outcome = "confirmed"
            _apply_decision(submission, revision, first.decision, first.comment, first.edits)
        else:
            first.outcome = "disagreed"
    db.session.flush()
    return review


def _apply_decision(
    submission: Submission, revision: Revision, decision: str, comment: str, edits: dict
) -> None:
    submission.status = STATUS_OF_DECISION[decision]
    submission.comment = comment
    submission.reviewed_revision_uid = revision.uid
    if decision == "accept":
        module = publish(submission, revision, edits)
        submission.module_uid = module.uid
    # Decided: the submission leaves the reviewers' queue.
    row = assignment_of(submission)
    if row is not None:
        db.session.delete(row)


def module_id_for(submission: Submission, title: str) -> str:
    """Return the id of the module an accepted submission becomes.

    Ids are lower-case ASCII words joined by single hyphens (``sync.content.MODULE_ID``) and
    schools refuse a bundle holding any other: a title in Arabic gives no such word, and a
    uid from a package may hold "_".
    """
    tag = slugify(submission.uid[:8], 8) or hashlib.sha256(submission.uid.encode()).hexdigest()[:8]
    words = (submission.country_code, "contrib", slugify(title, 50), tag)
    return "-".join(word for word in words if word)


def publish(submission: Submission, revision: Revision, edits: dict):
    """Turn an accepted revision (with the reviewer's edits) into a module, teacher credited."""
    title = (edits.get("title") or revision.title).strip()
    summary = (edits.get("summary") or revision.summary).strip()
    markdown = edits.get("markdown") or revision.markdown
    if not markdown.lstrip().startswith("# "):
        markdown = f"# {title}\n\n{markdown}"
    store = blob_store()
    by_name = {f["name"]: f for f in revision.files}
    media = {}
    for target, _line in local_targets(markdown):
        found = by_name.get(target.rsplit("/", 1)[-1])
        if found:
            media[target] = found["sha256"]
    credit = (
        f"{submission.teacher_name} ({submission.school_name})"
        if submission.school_name
        else submission.teacher_name
    )
    uid = submission.module_uid or module_id_for(submission, title)
    source = fmt.Module(
        id=uid,
        country=submission.country_code,
        version=1,
        language=revision.language,
        levels=list(edits.get("levels") or revision.levels),
        subject=edits.get("subject") or revision.subject,
        competencies=list(edits.get("competencies", revision.competencies)),
        resource_type="lesson",
        licence=revision.licence,
        attribution=credit,
        title={revision.language: title},
        summary={revision.language: summary},
        authors=[fmt.Author(name=submission.teacher_name, role="author")],
        lessons=[
            fmt.Lesson(
                slug=slugify(title, 60) or "lecon",
                position=1,
                texts={
                    revision.language: fmt.LessonText(revision.language, title, markdown, media)
                },
            )
        ],
        blobs={
            f["sha256"]: fmt.Blob(
                f["sha256"], f["size"], f["media_type"], f["name"], store.path(f["sha256"])
            )
            for f in revision.files
            if f["sha256"] in media.values()
        },
    )
    report = LoadReport()
    # Re-accepting after changes publishes the next version of the same module.
    module = load_module(source, report, auto_version=True)
    if module is None:
        raise ReviewError({"publish": "; ".join(str(p) for p in report.problems) or "failed"})
    return module


def submission_statuses(country: str) -> list[SubmissionStatus]:
    """Return what each school must learn of its submissions, for the next bundle."""
    rows = db.session.scalars(
        select(Submission).where(
            Submission.country_code == country,
            Submission.school_key_id.is_not(None),
            Submission.status.in_(
                ("received", "changes_requested", "accepted", "rejected", "withdrawn")
            ),
        )
    )
    return [
        SubmissionStatus(
            uid=s.uid,
            status=s.status,
            comment=s.comment or "",
            module_id=s.module_uid if s.status == "accepted" else None,
            revision_uid=_status_revision(s),
        )
        for s in rows
    ]


def _status_revision(submission: Submission) -> str:
    """Return the revision a status is about: the one reviewed, else the newest received."""
    if (
        submission.status in ("changes_requested", "accepted", "rejected")
        and submission.reviewed_revision_uid
    ):
        return submission.reviewed_revision_uid
    return submission.latest.uid if submission.revisions else NO_REVISION
