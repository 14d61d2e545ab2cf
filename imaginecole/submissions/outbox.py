"""School server side of submissions: the outbox package, and statuses coming back in bundles.

Nothing is marked as delivered when a package is written: a revision counts as received only
when the national server says so in a later bundle, so a lost USB stick loses nothing and the
next export simply carries the same work again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from imaginecole.datadir import school_key_path
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from imaginecole.submissions.models import ExportedPackage, Revision, Submission
from sync.bundle import PrivateKey, generate_key_files, load_private_key
from sync.submissions import (
    FileRef,
    RevisionData,
    SubmissionData,
    build_package,
    enrolment_entry_toml,
)

PENDING = ("submitted", "sent")


@dataclass
class ExportReport:
    path: Path | None
    submissions: int = 0
    revisions: int = 0
    withdrawals: int = 0


class SchoolKeyMissing(Exception):
    """This school server has no key to sign its packages with; the message says what to do."""

    def __init__(self, path: Path, used_before: bool):
        self.path, self.used_before = path, used_before
        if used_before:
            advice = (
                "packages were signed with it before, so restore it from a backup "
                "(imaginecole restore); a new key would need the national team to enrol "
                "this school again (imaginecole submissions key --new-key)"
            )
        else:
            advice = (
                "create it with `imaginecole submissions key --country CC --name NAME` and "
                "send the printed entry to the national team"
            )
        super().__init__(f"This school server has no key at {path}: {advice}.")


def _key_used_before() -> bool:
    return db.session.scalar(select(ExportedPackage.id).limit(1)) is not None


def school_key() -> PrivateKey:
    """Return this school server's key; never create one (SchoolKeyMissing)."""
    path = school_key_path()
    if not path.exists():
        raise SchoolKeyMissing(path, _key_used_before())
    return load_private_key(path)


def create_school_key(replace_lost: bool = False) -> Path:
    """Create this school server's key, on purpose; return its path.

    A key that signed packages before and is now missing is not replaced unless
    ``replace_lost``: the national team knows the old one, so a new key means enrolling again.
    """
    path = school_key_path()
    if path.exists():
        raise FileExistsError(f"This school server already has a key at {path}.")
    if _key_used_before() and not replace_lost:
        raise SchoolKeyMissing(path, used_before=True)
    # A public key left without its private key can sign nothing: the new pair replaces it.
    path.with_suffix(".pub").unlink(missing_ok=True)
    files = generate_key_files(path.parent, name=path.stem)
    if files.private_path != path:
        os.replace(files.private_path, path)
    return path


def enrolment_entry(country: str, name: str) -> str:
    """Return the text the national team adds to enrol this school server."""
    return enrolment_entry_toml(school_key().public, country, name)


def _revision_data(revision: Revision) -> RevisionData:
    return RevisionData(
        uid=revision.uid,
        parent_uid=revision.parent_uid,
        title=revision.title,
        summary=revision.summary,
        language=revision.language,
        levels=list(revision.levels),
        subject=revision.subject,
        competencies=list(revision.competencies),
        licence=revision.licence,
        markdown=revision.markdown,
        files=[FileRef(**f) for f in revision.files],
        created=revision.created,
    )


def pending_submissions(country: str) -> list[Submission]:
    """Return the submissions to send: ready ones with unacknowledged work, and withdrawals."""
    rows = db.session.scalars(
        select(Submission).where(
            Submission.author_id.is_not(None), Submission.country_code == country
        )
    )
    pending = []
    for submission in rows:
        unsent = [r for r in submission.revisions if not r.acknowledged]
        if submission.status in PENDING and unsent:
            pending.append(submission)
        elif (
            submission.status == "withdrawn"
            and not submission.withdrawal_acknowledged
            and any(r.exported for r in submission.revisions)
        ):
            pending.append(submission)  # sent again until the national server confirms it
    return pending


def countries_with_pending() -> list[str]:
    codes = db.session.scalars(
        select(Submission.country_code).where(Submission.author_id.is_not(None)).distinct()
    )
    return [code for code in codes if pending_submissions(code)]


def export_package(country: str, out_path: Path) -> ExportReport:
    """Write the pending submissions of ``country`` as a signed package at ``out_path``."""
    submissions = pending_submissions(country)
    if not submissions:
        return ExportReport(path=None)
    key = school_key()  # before any work: a missing key is the first thing to fix
    store = blob_store()
    data, files = [], {}
    report = ExportReport(path=Path(out_path))
    for submission in submissions:
        withdrawn = submission.status == "withdrawn"
        revisions = [] if withdrawn else [r for r in submission.revisions if not r.acknowledged]
        for revision in revisions:
            for ref in revision.files:
                files[ref["sha256"]] = store.path(ref["sha256"])
        data.append(
            SubmissionData(
                uid=submission.uid,
                teacher_id=str(submission.author_id),
                teacher_name=submission.teacher_name,
                withdrawn=withdrawn,
                revisions=[_revision_data(r) for r in revisions],
            )
        )
        report.submissions += 1
        report.revisions += len(revisions)
        report.withdrawals += withdrawn
    build_package(data, files, country, key, out_path)
    for submission in submissions:
        for revision in submission.revisions:
            revision.exported = True
        if submission.status == "submitted":
            submission.status = "sent"
    db.session.add(
        ExportedPackage(
            path=str(out_path), submission_count=report.submissions, revision_count=report.revisions
        )
    )
    db.session.flush()
    return report


def apply_statuses(statuses) -> int:
    """Record what the national server says of this school's submissions; return how many changed.

    It runs inside the bundle import's transaction.
    """
    changed = 0
    for status in statuses:
        submission = db.session.scalar(
            select(Submission).where(
                Submission.uid == status.uid, Submission.author_id.is_not(None)
            )
        )
        if submission is None:
            continue  # another school's work: nothing to do here
        by_uid = {r.uid: r for r in submission.revisions}
        revision = by_uid.get(status.revision_uid)
        while revision is not None:  # the revision and everything before it have arrived
            revision.acknowledged = True
            revision = by_uid.get(revision.parent_uid) if revision.parent_uid else None
        if submission.status == "withdrawn":
            submission.withdrawal_acknowledged = status.status == "withdrawn"
            continue
        if status.revision_uid == submission.latest.uid:
            # A status about an older revision must not hide newer work still on its way.
            submission.status = status.status
            submission.module_uid = status.module_id
        submission.comment = status.comment or ""
        changed += 1
    return changed
