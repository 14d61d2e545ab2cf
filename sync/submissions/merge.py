"""Merge received submission packages into what the national server knows: pure functions.

No I/O and no clock: the app reads what it knows from its database into ``KnownSubmission``
values, calls ``merge`` with a checked package, and writes the decisions back in one
transaction. The rules (docs/submission-package.md):

- A submission's revisions are the union of every revision ever received for it; a revision
  is named by its content and parent, so receiving it again adds nothing (idempotence), and
  the union does not depend on the order packages arrive in (order independence).
- Its *heads* are the revisions no other revision was edited from. One head: the latest
  version. More than one: two edits of the same revision, both kept, flagged as a conflict for
  the reviewer. A revision whose parent has not arrived yet still counts; once the parent
  arrives the heads are those of the complete history, whatever the order.
- Withdrawal is final: once any package says a submission is withdrawn, it stays withdrawn.
  Revisions that arrive later are still kept (nothing is lost), but they do not bring it back:
  "withdrawn, then a newer revision" cannot be told from "a newer revision, then withdrawn"
  without trusting the school's clock, and a final flag gives the same answer in every order.
  To offer the work again, the teacher submits it anew.
- Duplicates are computed from the whole state: a submission whose head has the same content
  as the head of another submission with a smaller uid is flagged as a duplicate of it.
  Withdrawn submissions take no part, so a teacher who withdrew and submitted again is not
  flagged against the withdrawn one.
- A submission belongs to the enrolled school that first sent it, and to its teacher there: a
  package from another school, or naming another teacher, is refused for that submission and
  changes nothing of it. Honest servers never do that (uids are random, and reach bundles only
  after the national server has them), so for them the result depends only on the *set* of
  packages received.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from sync.submissions.model import RevisionData, SubmissionData
from sync.submissions.package import ReceivedPackage

NEW = "new"
UPDATED = "updated"
ALREADY_RECEIVED = "already_received"
CONFLICT = "conflict"
REFUSED = "refused"
KINDS = (NEW, UPDATED, ALREADY_RECEIVED, CONFLICT, REFUSED)

RECEIVED = "received"
# A decision was made on what the reviewer saw; new work from the teacher needs a new look.
REOPENED_BY_NEW_REVISIONS = ("changes_requested", "accepted", "rejected")


@dataclass(frozen=True)
class KnownRevision:
    """A revision the national server holds, reduced to what merging needs."""

    uid: str
    parent_uid: str | None
    content_hash: str

    @classmethod
    def of(cls, revision: RevisionData) -> KnownRevision:
        return cls(revision.uid, revision.parent_uid, revision.content_hash())


@dataclass(frozen=True)
class KnownSubmission:
    """A submission the national server holds, as the app reads it from its database."""

    uid: str
    school_key_id: str  # the enrolled school server that sent it first
    revisions: list[KnownRevision]
    withdrawn: bool = False
    status: str = RECEIVED
    teacher_id: str | None = None  # on the sending school server; None when not recorded


@dataclass(frozen=True)
class Decision:
    """What one package does to one submission, and the submission's state afterwards."""

    submission_uid: str
    kind: str  # one of KINDS
    new_revisions: list[RevisionData]  # to store: those never received before
    message: str  # plain words, for the import report
    submission: SubmissionData | None = None  # as the package carried it (teacher name …)
    heads: list[str] = field(default_factory=list)
    conflict: bool = False
    withdrawn: bool = False
    newly_withdrawn: bool = False  # this package is the first to say so
    status: str | None = None  # the status to record; None for a refusal (nothing changes)
    duplicate_of: str | None = None
    missing_parents: list[str] = field(default_factory=list)  # not received yet


@dataclass
class MergeResult:
    """The decisions for one package, and the whole state after it."""

    school_key_id: str
    decisions: list[Decision]
    state: dict[str, KnownSubmission]
    # For every submission, not only this package's: one new head can make another
    # submission a duplicate, or stop it from being one.
    duplicates: dict[str, str]

    def count(self, kind: str) -> int:
        return sum(1 for d in self.decisions if d.kind == kind)

    def describe(self) -> str:
        """Return a one-line summary, like "2 new, 1 already received"."""
        parts = [
            f"{self.count(kind)} {kind.replace('_', ' ')}" for kind in KINDS if self.count(kind)
        ]
        return ", ".join(parts) if parts else "no submission"


PackageInput = ReceivedPackage | tuple[str, Iterable[SubmissionData]]


# ---------------------------------------------------------------------------- graphs


def heads(revisions: Iterable[KnownRevision | RevisionData]) -> list[str]:
    """Return the uids of the revisions no other revision was edited from, sorted.

    A revision whose parent is unknown still counts: it arrived before its parent.
    """
    items = {r.uid: r.parent_uid for r in revisions}
    parents = {parent for parent in items.values() if parent is not None}
    return sorted(uid for uid in items if uid not in parents)


def is_conflict(revisions: Iterable[KnownRevision | RevisionData]) -> bool:
    """Tell whether the revisions hold more than one head (edits made side by side)."""
    return len(heads(revisions)) > 1


def missing_parents(revisions: Iterable[KnownRevision | RevisionData]) -> list[str]:
    """Return the parents named by the revisions but not among them, sorted."""
    items = {r.uid: r.parent_uid for r in revisions}
    return sorted({p for p in items.values() if p is not None and p not in items})


def duplicates(
    submissions: Mapping[str, Iterable[KnownRevision]], *, withdrawn: Collection[str] = ()
) -> dict[str, str]:
    """Map each submission whose head content also heads a smaller uid's submission to that uid.

    Computed from the whole state, so it does not depend on arrival order; the smallest uid of
    a group is the one the others point to. Submissions in ``withdrawn`` take no part.
    """
    head_hashes: dict[str, set[str]] = {}
    for uid, revisions in submissions.items():
        if uid in withdrawn:
            continue
        revisions = list(revisions)
        by_uid = {r.uid: r for r in revisions}
        head_hashes[uid] = {by_uid[h].content_hash for h in heads(revisions)}
    first: dict[str, str] = {}
    for uid in sorted(head_hashes):
        for content in head_hashes[uid]:
            first.setdefault(content, uid)
    result = {}
    for uid, contents in head_hashes.items():
        if contents:
            target = min(first[c] for c in contents)
            if target != uid:
                result[uid] = target
    return dict(sorted(result.items()))


def state_duplicates(state: Mapping[str, KnownSubmission]) -> dict[str, str]:
    """Return ``duplicates`` of a whole state, withdrawn submissions left out."""
    return duplicates(
        {uid: s.revisions for uid, s in state.items()},
        withdrawn={uid for uid, s in state.items() if s.withdrawn},
    )


def next_status(current: str | None, added_revisions: bool) -> str:
    """Return the status after a merge: new submissions, and decided ones that changed, await review."""
    if current is None:
        return RECEIVED
    if added_revisions and current in REOPENED_BY_NEW_REVISIONS:
        return RECEIVED
    return current


# ---------------------------------------------------------------------------- merge


def _unpack(package: PackageInput) -> tuple[str, list[SubmissionData]]:
    if isinstance(package, ReceivedPackage):
        return package.school_key_id, list(package.submissions)
    school_key_id, submissions = package
    return school_key_id, list(submissions)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _refusal(submission: SubmissionData, message: str) -> Decision:
    return Decision(submission.uid, REFUSED, [], message, submission)


def merge(known: Mapping[str, KnownSubmission], package: PackageInput) -> MergeResult:
    """Merge one checked package into ``known`` (left untouched); return decisions and new state.

    ``package`` is a ``ReceivedPackage`` or a pair (school key id, submissions): the sending
    school is always the enrolled one, never a field of the package. ``known`` should hold
    every submission of the country, so that duplicates are found among all of them.
    """
    school_key_id, submissions = _unpack(package)
    state = dict(known)
    decisions: list[Decision] = []
    for submission in sorted(submissions, key=lambda s: s.uid):
        current = state.get(submission.uid)
        if current is not None and current.school_key_id != school_key_id:
            decisions.append(
                _refusal(
                    submission,
                    f"submission {submission.uid} was sent by another school server; a package "
                    "may only change its own school's submissions, so this one was ignored",
                )
            )
            continue
        if (
            current is not None
            and current.teacher_id is not None
            and current.teacher_id != submission.teacher_id
        ):
            decisions.append(
                _refusal(
                    submission,
                    f"submission {submission.uid} belongs to another teacher of this school "
                    "server; this copy was ignored",
                )
            )
            continue
        decisions.append(_merge_one(state, current, school_key_id, submission))
    found = state_duplicates(state)
    decisions = [replace(d, duplicate_of=found.get(d.submission_uid)) for d in decisions]
    return MergeResult(school_key_id, decisions, state, found)


def _merge_one(
    state: dict[str, KnownSubmission],
    current: KnownSubmission | None,
    school_key_id: str,
    submission: SubmissionData,
) -> Decision:
    """Merge one submission of the package into ``state``; return the decision."""
    have = {r.uid for r in current.revisions} if current else set()
    added: list[RevisionData] = []
    for revision in sorted(submission.revisions, key=lambda r: r.uid):
        if revision.uid not in have:
            have.add(revision.uid)
            added.append(revision)
    revisions = sorted(
        [*(current.revisions if current else []), *(KnownRevision.of(r) for r in added)],
        key=lambda r: r.uid,
    )
    was_withdrawn = current.withdrawn if current else False
    withdrawn = was_withdrawn or submission.withdrawn
    after = KnownSubmission(
        uid=submission.uid,
        school_key_id=school_key_id,
        revisions=revisions,
        withdrawn=withdrawn,
        status=next_status(current.status if current else None, bool(added)),
        teacher_id=(
            current.teacher_id
            if current is not None and current.teacher_id is not None
            else submission.teacher_id
        ),
    )
    state[submission.uid] = after
    found_heads = heads(revisions)
    conflict = len(found_heads) > 1
    waiting = missing_parents(revisions)

    notes = []
    if conflict:
        notes.append(
            f"it now has {len(found_heads)} versions edited side by side; both are kept for "
            "the reviewer to choose"
        )
    if withdrawn and not was_withdrawn:
        notes.append("withdrawn by its teacher")
    elif withdrawn and added:
        notes.append("it stays withdrawn: a withdrawal is final")
    if waiting:
        notes.append(
            f"{_plural(len(waiting), 'earlier revision')} not received yet; they will fit in "
            "when they arrive"
        )
    if current is None:
        kind = NEW
        message = f"new submission with {_plural(len(added), 'revision')}"
    elif added:
        kind = CONFLICT if conflict else UPDATED
        message = f"{_plural(len(added), 'new revision')}"
    elif withdrawn and not was_withdrawn:
        kind, message = UPDATED, "no new revision"
    else:
        kind, message, notes = ALREADY_RECEIVED, "already received: nothing new", []
    return Decision(
        submission_uid=submission.uid,
        kind=kind,
        new_revisions=added,
        message="; ".join([message, *notes]),
        submission=submission,
        heads=found_heads,
        conflict=conflict,
        withdrawn=withdrawn,
        newly_withdrawn=withdrawn and not was_withdrawn,
        status=after.status,
        missing_parents=waiting,
    )


# ---------------------------------------------------------------------------- whole states


def state_after(
    known: Mapping[str, KnownSubmission], *packages: PackageInput
) -> dict[str, KnownSubmission]:
    """Return the state after merging ``packages`` one after the other into ``known``."""
    state = dict(known)
    for package in packages:
        state = merge(state, package).state
    return state


def state_summary(state: Mapping[str, KnownSubmission]) -> dict[str, object]:
    """Return everything the merge rules decide about a state, as plain comparable data."""
    return {
        "submissions": {
            uid: {
                "school": s.school_key_id,
                "teacher": s.teacher_id,
                "revisions": sorted(r.uid for r in s.revisions),
                "heads": heads(s.revisions),
                "conflict": is_conflict(s.revisions),
                "missing_parents": missing_parents(s.revisions),
                "withdrawn": s.withdrawn,
                "status": s.status,
            }
            for uid, s in sorted(state.items())
        },
        "duplicates": state_duplicates(state),
    }
