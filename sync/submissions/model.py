"""Teacher submissions as plain data: what a school server sends upstream, and how it is named.

A submission is one resource a teacher proposes; each edit the teacher sends is a revision that
names the revision it was edited from (its parent). Names are derived from content, so the same
data always gets the same name on every server, with no clock and no coordination:

- a revision's *content hash* covers what a reader sees (title … files, the Markdown by its
  SHA-256), not where the revision comes from nor when it was made: equal content hashes mean
  a duplicate;
- a revision's *uid* covers its submission, its parent and its content: the same edit made
  twice is the same revision, the same text edited from two parents is two revisions, and a
  revision uid is unique across submissions (two teachers writing the same first draft make
  two revisions, which are then flagged as duplicates of each other).

``created`` is informational only (the school server's clock cannot be trusted): it is part of
neither name, so when the same revision arrives twice with two times, the first copy kept wins.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sync.bundle.manifest import (
    CREATED,
    FORBIDDEN_CHARACTERS,
    LANG,
    SHA256,
    SUBMISSION_UID,
    canonical_json,
    is_safe_name,
)
from sync.errors import BundleError

MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(?:;.*)?$"
)
MAX_SHORT_TEXT = 1000  # titles, names, codes: anything longer is not a title but an accident


class InvalidText(BundleError, ValueError):
    """A text holds characters no text may hold; the message names the field."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class InvalidSubmission(BundleError, ValueError):
    """A submission or revision is malformed (a bad uid, a missing title, a wrong shape)."""


def validate_text(value: object, field_name: str) -> str:
    """Return ``value`` when it is text that may be stored and shown; raise ``InvalidText`` if not.

    Refused: NUL characters, lone surrogates (half of a UTF-16 pair, as in ``"\\ud800"``) and
    control characters other than tab, line feed and carriage return. Such characters never come
    from a keyboard; they come from damaged files or crafted packages, and databases, search
    indexes and browsers each treat them differently.
    """
    if not isinstance(value, str):
        raise InvalidText(field_name, "must be a text")
    bad = FORBIDDEN_CHARACTERS.search(value)
    if bad is None:
        return value
    char = bad.group()
    where = f"at character {bad.start() + 1}"
    if char == "\x00":
        raise InvalidText(field_name, f"contains a NUL character {where}; text may not hold one")
    if "\ud800" <= char <= "\udfff":
        raise InvalidText(
            field_name,
            f"contains a lone surrogate (U+{ord(char):04X}) {where}, which is not valid "
            "Unicode text",
        )
    raise InvalidText(
        field_name,
        f"contains the invisible control character U+{ord(char):04X} {where}; only tabs and "
        "line breaks are allowed",
    )


def new_submission_uid() -> str:
    """Return a fresh random submission uid (the school server makes one per submission)."""
    return secrets.token_hex(16)


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FileRef:
    """A file attached to a revision, named by the SHA-256 of its bytes."""

    sha256: str
    name: str  # a plain file name (see sync.bundle.manifest.safe_name), never a path
    media_type: str
    size: int

    def to_data(self) -> dict:
        return {
            "sha256": self.sha256,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
        }


@dataclass(frozen=True)
class RevisionData:
    """One version of a submitted resource, as the teacher sent it."""

    uid: str
    parent_uid: str | None
    title: str
    summary: str
    language: str
    levels: list[str]
    subject: str
    competencies: list[str]
    licence: str
    markdown: str
    files: list[FileRef]
    created: str  # YYYY-MM-DDTHH:MM:SSZ from the school server's clock: informational only

    @property
    def markdown_sha256(self) -> str:
        return hashlib.sha256(self.markdown.encode("utf-8")).hexdigest()

    def content_data(self, markdown_sha256: str | None = None) -> dict:
        """Return the fields a reader sees, the Markdown by its hash, as canonical data.

        ``markdown_sha256`` stands in for the Markdown when only its hash is at hand (while a
        package's manifest is checked, before its blobs are read).
        """
        return {
            "title": self.title,
            "summary": self.summary,
            "language": self.language,
            "levels": list(self.levels),
            "subject": self.subject,
            "competencies": list(self.competencies),
            "licence": self.licence,
            "markdown": markdown_sha256 or self.markdown_sha256,
            "files": [f.to_data() for f in self.files],
        }

    def content_hash(self, markdown_sha256: str | None = None) -> str:
        """Return the SHA-256 of the content alone: equal for identical work, wherever it sits."""
        return hashlib.sha256(canonical_json(self.content_data(markdown_sha256))).hexdigest()


def revision_uid(submission_uid: str, parent_uid: str | None, content_hash: str) -> str:
    """Return the uid a revision must have: fixed by its submission, its parent and its content."""
    data = {"submission": submission_uid, "parent": parent_uid, "content": content_hash}
    return hashlib.sha256(canonical_json(data)).hexdigest()


def make_revision(
    submission_uid: str,
    parent_uid: str | None,
    *,
    title: str,
    markdown: str,
    created: str,
    summary: str = "",
    language: str = "fr",
    levels: Iterable[str] = (),
    subject: str = "",
    competencies: Iterable[str] = (),
    licence: str = "CC-BY-SA-4.0",
    files: Iterable[FileRef] = (),
) -> RevisionData:
    """Return a revision with its uid computed; the texts are checked first."""
    draft = RevisionData(
        uid="",
        parent_uid=parent_uid,
        title=title,
        summary=summary,
        language=language,
        levels=list(levels),
        subject=subject,
        competencies=list(competencies),
        licence=licence,
        markdown=markdown,
        files=list(files),
        created=created,
    )
    check_revision(draft, submission_uid, "revision", check_uid=False)
    uid = revision_uid(submission_uid, parent_uid, draft.content_hash())
    return replace(draft, uid=uid)


@dataclass(frozen=True)
class SubmissionData:
    """A submission as a school server sends it: who wrote it there, and its revisions.

    ``teacher_id`` is the teacher's id on the sending school server. The national server files
    it under the enrolled school that sent the package, so it cannot name a teacher elsewhere.
    A package carries only the revisions not yet acknowledged, so ``revisions`` may be a part
    of the submission's history; it may be empty only when the submission is withdrawn.
    """

    uid: str
    teacher_id: str
    teacher_name: str
    withdrawn: bool = False
    revisions: list[RevisionData] = field(default_factory=list)


# ---------------------------------------------------------------------------- checks


def _short(value: object, where: str, *, required: bool = False) -> str:
    text = validate_text(value, where)
    if len(text) > MAX_SHORT_TEXT:
        raise InvalidText(where, f"is {len(text)} characters long, more than {MAX_SHORT_TEXT}")
    if required and not text.strip():
        raise InvalidSubmission(f"{where}: must not be empty")
    return text


def check_file_ref(ref: FileRef, where: str) -> None:
    """Refuse a file reference with a bad hash, size, name or media type."""
    if not isinstance(ref.sha256, str) or not SHA256.match(ref.sha256):
        raise InvalidSubmission(f"{where}.sha256: {str(ref.sha256)[:80]!r} is not a SHA-256")
    if isinstance(ref.size, bool) or not isinstance(ref.size, int) or ref.size < 0:
        raise InvalidSubmission(f"{where}.size: must be a whole number of bytes")
    name = _short(ref.name, f"{where}.name")
    if not is_safe_name(name):
        raise InvalidSubmission(f"{where}.name: {name[:80]!r} is not a plain file name")
    media_type = _short(ref.media_type, f"{where}.media_type")
    if not MEDIA_TYPE.match(media_type):
        raise InvalidSubmission(f"{where}.media_type: {media_type[:80]!r} is not a media type")


def check_revision(
    revision: RevisionData,
    submission_uid: str,
    where: str,
    *,
    check_uid: bool = True,
    markdown_sha256: str | None = None,
) -> None:
    """Refuse a revision whose texts, shapes or uid are not what they must be.

    With ``markdown_sha256`` the Markdown itself is not checked (it is not read yet) and the uid
    is computed from that hash.
    """
    _short(revision.title, f"{where}.title", required=True)
    validate_text(revision.summary, f"{where}.summary")
    language = _short(revision.language, f"{where}.language")
    if not LANG.match(language):
        raise InvalidSubmission(f"{where}.language: {language[:80]!r} is not a language code")
    for i, level in enumerate(revision.levels):
        _short(level, f"{where}.levels[{i}]", required=True)
    _short(revision.subject, f"{where}.subject")
    for i, competency in enumerate(revision.competencies):
        _short(competency, f"{where}.competencies[{i}]", required=True)
    _short(revision.licence, f"{where}.licence")
    if markdown_sha256 is None:
        validate_text(revision.markdown, f"{where}.markdown")
    for i, ref in enumerate(revision.files):
        check_file_ref(ref, f"{where}.files[{i}]")
    if not isinstance(revision.created, str) or not CREATED.match(revision.created):
        raise InvalidSubmission(
            f"{where}.created: {str(revision.created)[:80]!r} is not a UTC time like "
            "2025-01-31T08:00:00Z"
        )
    try:
        datetime.strptime(revision.created, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as error:
        raise InvalidSubmission(
            f"{where}.created: {revision.created!r} is not a real date"
        ) from error
    parent = revision.parent_uid
    if parent is not None and (not isinstance(parent, str) or not SHA256.match(parent)):
        raise InvalidSubmission(f"{where}.parent_uid: {str(parent)[:80]!r} is not a revision uid")
    if check_uid:
        expected = revision_uid(
            submission_uid, revision.parent_uid, revision.content_hash(markdown_sha256)
        )
        if revision.uid != expected:
            # The uid is a promise about the content: a package that breaks it could make two
            # servers hold different revisions under one name.
            raise InvalidSubmission(
                f"{where}.uid: {str(revision.uid)[:80]!r} does not match the revision's content "
                f"and parent (expected {expected})"
            )


def check_submission(
    submission: SubmissionData,
    where: str = "submission",
    *,
    markdown_hashes: Sequence[str] | None = None,
) -> None:
    """Refuse a malformed submission.

    ``markdown_hashes`` (one per revision, in order) stand in for Markdown not read yet.
    """
    if not isinstance(submission.uid, str) or not SUBMISSION_UID.match(submission.uid):
        raise InvalidSubmission(
            f"{where}.uid: {str(submission.uid)[:80]!r} is not a submission uid (16 to 64 "
            "lower-case letters, digits, hyphens or underscores)"
        )
    _short(submission.teacher_id, f"{where}.teacher_id", required=True)
    _short(submission.teacher_name, f"{where}.teacher_name")
    if not isinstance(submission.withdrawn, bool):
        raise InvalidSubmission(f"{where}.withdrawn: must be true or false")
    if not submission.revisions and not submission.withdrawn:
        raise InvalidSubmission(
            f"{where}: has no revision and is not withdrawn, so it says nothing"
        )
    seen: set[str] = set()
    for i, revision in enumerate(submission.revisions):
        label = f"{where}.revisions[{i}]"
        check_revision(
            revision,
            submission.uid,
            label,
            markdown_sha256=markdown_hashes[i] if markdown_hashes is not None else None,
        )
        if revision.uid in seen:
            raise InvalidSubmission(f"{label}: revision {revision.uid} is listed twice")
        seen.add(revision.uid)
