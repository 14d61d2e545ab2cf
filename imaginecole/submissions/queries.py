"""Reads for teachers' pages: what the national team changed in a resource it published.

The school learns a decision from a bundle, which also carries the module the resource
became: comparing the two on the school server shows the teacher the reviewer's changes
without anything more travelling.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.submissions.models import Revision, Submission

CONTEXT_LINES = 1  # unchanged lines shown around each change of the lesson text


@dataclass(frozen=True)
class DiffLine:
    """One line of a comparison: "same", "removed" (the teacher's) or "added" (the reviewer's)."""

    kind: str
    text: str


@dataclass(frozen=True)
class ReviewerChange:
    """A field the reviewer changed, with the teacher's version and the published one."""

    field: str
    before: str
    after: str
    lines: tuple[DiffLine, ...] = ()  # the lesson text: only the changed parts, with context


def reviewed_revision(submission: Submission) -> Revision:
    by_uid = {revision.uid: revision for revision in submission.revisions}
    return by_uid.get(submission.reviewed_revision_uid or "", submission.latest)


def reviewer_changes(submission: Submission) -> list[ReviewerChange]:
    """Return what the published module changed from the teacher's accepted revision."""
    if submission.status != "accepted" or not submission.module_uid:
        return []
    module = db.session.scalar(select(Module).filter_by(uid=submission.module_uid))
    if module is None or not module.lessons:
        return []
    revision = reviewed_revision(submission)
    lang = revision.language
    title = module.title.get(lang, "")
    lesson = module.lessons[0].texts.get(lang)
    markdown = lesson.markdown if lesson is not None else ""
    # Publishing adds the title as a heading to a text that has none: not the reviewer's doing.
    heading = f"# {title}\n\n"
    if not revision.markdown.lstrip().startswith("# ") and markdown.startswith(heading):
        markdown = markdown[len(heading) :]
    pairs = [
        ("title", revision.title, title),
        ("summary", revision.summary, module.summary.get(lang, "")),
        ("levels", ", ".join(revision.levels), ", ".join(level.code for level in module.levels)),
        ("subject", revision.subject, module.subject.slug),
        (
            "competencies",
            ", ".join(sorted(revision.competencies)),
            ", ".join(sorted(c.code for c in module.competencies("teaches"))),
        ),
    ]
    changes = [ReviewerChange(name, old, new) for name, old, new in pairs if old != new]
    if markdown.strip() != revision.markdown.strip():
        changes.append(
            ReviewerChange("markdown", "", "", tuple(line_diff(revision.markdown, markdown)))
        )
    return changes


def line_diff(before: str, after: str) -> list[DiffLine]:
    """Return the changed lines of ``after`` against ``before``, with a little context."""
    old, new = before.splitlines(), after.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", text) for text in old[i1:i2]]
                continue
            lines += [DiffLine("removed", text) for text in old[i1:i2]]
            lines += [DiffLine("added", text) for text in new[j1:j2]]
    return lines
