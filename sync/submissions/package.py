"""Signed submission packages: a school server's outbox, carried to the national server.

A package is the bundle container travelling the other way (docs/submission-package.md): a
ZIP holding ``manifest.json``, ``signature.json`` and ``blobs/<sha256>``, where each revision's
Markdown and attached files travel as blobs. The school server signs it with its own key, which
the national server has enrolled with the school's name and country.

Reading checks, in order: the entry names; the signature over the exact manifest bytes, with
the *enrolled* key (before the manifest is parsed); the manifest, strictly (types, texts, uids);
that the package's country is the one the school is enrolled for; the archive's listing against
the manifest (sizes, compression ratios); then every blob's bytes, copied into a staging folder
of the store while hashed; the Markdown, read back as UTF-8 text. Only when everything passed
are the staged blobs renamed into the store. Identity (school, country) comes from the
enrolment, never from the package; a teacher id only means something within its school.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sync.bundle.manifest import (
    CREATED,
    KEY_ID,
    MARKDOWN_TYPE,
    SHA256,
    Fields,
    canonical_json,
    format_created,
    is_safe_name,
    reject_constant,
    reject_duplicates,
)
from sync.container.archive import MAX_MANIFEST_BYTES, SignedArchive
from sync.container.keys import (
    PrivateKey,
    PublicKey,
    Signature,
    key_entries,
    load_private_key,
    read_toml_file,
    sign,
)
from sync.container.staging import (
    RESERVE_BYTES,
    blobs_to_stage,
    publish,
    remove_staging,
    stage_blobs,
    staging_dir,
)
from sync.container.writer import Progress, write_container
from sync.content import COUNTRY_CODE
from sync.errors import (
    BadSignature,
    BuildError,
    BundleError,
    CorruptBlob,
    ManifestError,
    StoreWriteError,
    TrustFileError,
    UnsupportedFormat,
)
from sync.model import FileEntry
from sync.storage import BlobStore
from sync.submissions.model import (
    FileRef,
    InvalidText,
    RevisionData,
    SubmissionData,
    check_submission,
    validate_text,
)

PACKAGE_FORMAT_VERSION = 1
PACKAGE_KIND = "submissions"
PACKAGE_SUFFIX = ".icsub"
MAX_MARKDOWN_BYTES = 8 * 1024 * 1024  # read into memory to be checked; a lesson is far smaller
STAGING_PREFIX = "submissions-"

# ---------------------------------------------------------------------------- errors


class UnknownSchool(BundleError):
    def __init__(self, key_id: str):
        super().__init__(
            f"the package is signed by key {key_id}, which no enrolled school server uses; "
            "enrol the school server (its key id, country and name) before importing its "
            "packages"
        )
        self.key_id = key_id


class CountryMismatch(BundleError):
    def __init__(self, school: str, key_id: str, enrolled: str, claimed: str):
        super().__init__(
            f"the package says it comes from country {claimed}, but {school} (key {key_id}) "
            f"is enrolled for {enrolled}; nothing was imported"
        )
        self.key_id, self.enrolled, self.claimed = key_id, enrolled, claimed


class UnsupportedPackageFormat(UnsupportedFormat):
    def __init__(self, found: int):
        BundleError.__init__(
            self,
            f"the package uses format version {found} but this software reads version "
            f"{PACKAGE_FORMAT_VERSION}: update Imaginecole on this server, then import it again",
        )
        self.found = found


class EnrolmentFileError(TrustFileError):
    """The file of enrolled school servers is missing or malformed."""


# ---------------------------------------------------------------------------- enrolment


@dataclass(frozen=True)
class EnrolledSchool:
    """A school server the national server accepts packages from, and who it is."""

    key_id: str
    public_key: PublicKey
    country: str
    name: str


@dataclass
class EnrolledKeys:
    """The school servers enrolled on this national server, by key id."""

    schools: dict[str, EnrolledSchool] = field(default_factory=dict)

    def get(self, key_id: str) -> EnrolledSchool | None:
        return self.schools.get(key_id)

    def add(self, public_key: PublicKey, country: str, name: str) -> EnrolledSchool:
        school = EnrolledSchool(public_key.key_id, public_key, country, name)
        self.schools[school.key_id] = school
        return school

    def to_toml(self) -> str:
        header = (
            "# School servers whose submission packages this server accepts\n"
            "# (see docs/submission-package.md).\nformat = 1\n"
        )
        return header + "".join(
            "\n" + enrolment_entry_toml(s.public_key, s.country, s.name)
            for s in self.schools.values()
        )


ENROLMENT_KEYS = ("name", "key_id", "public_key", "country")


def enrolment_entry_toml(public_key: PublicKey, country: str, name: str) -> str:
    """Return a ``[[schools]]`` entry for the enrolment file."""
    return (
        "[[schools]]\n"
        f"name = {json.dumps(name, ensure_ascii=False)}\n"
        f'key_id = "{public_key.key_id}"\n'
        f'public_key = "{public_key.to_base64()}"\n'
        f'country = "{country}"\n'
    )


def load_enrolled(path: Path | str) -> EnrolledKeys:
    """Read an enrolment file; raise ``EnrolmentFileError`` naming the entry at fault."""
    return parse_enrolled(read_toml_file(path, "enrolment file", EnrolmentFileError), str(path))


def parse_enrolled(data: dict, source: str = "enrolment file") -> EnrolledKeys:
    """Build the enrolled schools from parsed TOML data."""
    enrolled = EnrolledKeys()
    for where, entry, public_key in key_entries(
        data, source, "schools", "school", ENROLMENT_KEYS, EnrolmentFileError
    ):
        country = entry.get("country")
        if not isinstance(country, str) or not COUNTRY_CODE.match(country):
            raise EnrolmentFileError(
                f'{where}: country must be a two-letter lower-case code, like "sn"'
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise EnrolmentFileError(f"{where}: name must say which school this is")
        if public_key.key_id in enrolled.schools:
            raise EnrolmentFileError(f"{where}: key {public_key.key_id} is listed twice")
        enrolled.add(public_key, country, name)
    return enrolled


# ---------------------------------------------------------------------------- the manifest


@dataclass
class PackageManifest:
    """What a package says: its submissions (Markdown as text here, as blobs in the file)."""

    country: str
    school_key_id: str
    created: str
    submissions: list[SubmissionData]
    files: dict[str, FileEntry]  # every blob: the Markdown of each revision and its files
    format_version: int = PACKAGE_FORMAT_VERSION
    kind: str = PACKAGE_KIND

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.values())

    def revision_uids(self) -> dict[str, list[str]]:
        """Return the revisions carried, by submission uid: what an acknowledgement covers."""
        return {s.uid: [r.uid for r in s.revisions] for s in self.submissions}

    def to_data(self) -> dict:
        return {
            "format_version": self.format_version,
            "kind": self.kind,
            "country": self.country,
            "school_key_id": self.school_key_id,
            "created": self.created,
            "files": {sha: f.to_data() for sha, f in self.files.items()},
            "submissions": [_submission_data(s) for s in self.submissions],
        }

    def to_json_bytes(self) -> bytes:
        """Return the exact bytes that are signed and stored as ``manifest.json``."""
        return canonical_json(self.to_data())


def _submission_data(submission: SubmissionData) -> dict:
    return {
        "uid": submission.uid,
        "teacher_id": submission.teacher_id,
        "teacher_name": submission.teacher_name,
        "withdrawn": submission.withdrawn,
        "revisions": [
            {
                "uid": r.uid,
                "parent_uid": r.parent_uid,
                "created": r.created,
                **r.content_data(),
            }
            for r in submission.revisions
        ],
    }


def _parse_revision(fields: Fields) -> tuple[RevisionData, str]:
    refs = []
    for ref in fields.items("files"):
        refs.append(
            FileRef(
                sha256=ref.text("sha256", SHA256, "a SHA-256 hex digest"),
                name=ref.text("name"),
                media_type=ref.text("media_type"),
                size=ref.integer("size"),
            )
        )
    parent = fields.get("parent_uid")
    if parent is not None:
        parent = fields.text("parent_uid", SHA256, "a revision uid")
    revision = RevisionData(
        uid=fields.text("uid", SHA256, "a revision uid"),
        parent_uid=parent,
        title=fields.text("title"),
        summary=fields.text("summary"),
        language=fields.text("language"),
        levels=fields.texts("levels"),
        subject=fields.text("subject"),
        competencies=fields.texts("competencies"),
        licence=fields.text("licence"),
        markdown="",  # read back from its blob once every blob is checked
        files=refs,
        created=fields.text("created"),
    )
    return revision, fields.text("markdown", SHA256, "a SHA-256 hex digest")


def parse_package_manifest(data: bytes) -> tuple[PackageManifest, list[list[str]]]:
    """Parse authenticated manifest bytes strictly; Markdown is left empty, named by hash.

    Return the manifest and, for each submission, its revisions' Markdown hashes in order.
    Every text is checked (``validate_text``), every revision uid recomputed, and the files
    listed must be exactly those the revisions use.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"is {len(data)} bytes, more than any real package manifest")
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=reject_duplicates,
            parse_constant=reject_constant,
        )
    except UnicodeDecodeError as error:
        raise ManifestError(
            f"is not valid UTF-8 text (bad byte at position {error.start})"
        ) from error
    except json.JSONDecodeError as error:
        raise ManifestError(f"is not valid JSON ({error})") from error
    except RecursionError:
        raise ManifestError("nests arrays or objects too deeply to be a package manifest") from None
    top = Fields(value, "")
    # Read first, alone: everything else may mean something else in another version.
    format_version = top.integer("format_version", minimum=0)
    if format_version != PACKAGE_FORMAT_VERSION:
        raise UnsupportedPackageFormat(format_version)
    kind = top.text("kind")
    if kind != PACKAGE_KIND:
        raise ManifestError(
            f"kind is {kind[:40]!r}: this is not a submission package (a content bundle is "
            "imported as a bundle)"
        )
    country = top.text("country", COUNTRY_CODE, "a two-letter lower-case country code")
    school_key_id = top.text("school_key_id", KEY_ID, "a 16-digit key id")
    created = top.text("created", CREATED, "a UTC time like 2025-01-31T08:00:00Z")
    try:
        datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as error:
        raise ManifestError(f"created {created!r} is not a real date") from error
    files: dict[str, FileEntry] = {}
    for sha, entry in top.mapping("files", SHA256, "a SHA-256 hex digest").items():
        fields = Fields(entry, f"files.{sha[:12]}…")
        name = validate_text(fields.text("name"), f"files.{sha[:12]}….name")
        if not is_safe_name(name):
            raise fields.fail("name", f"{name[:80]!r} is not a plain file name")
        media_type = validate_text(fields.text("media_type"), f"files.{sha[:12]}….media_type")
        files[sha] = FileEntry(fields.integer("size"), media_type, name)

    submissions: list[SubmissionData] = []
    markdown: list[list[str]] = []
    for fields in top.items("submissions"):
        withdrawn = fields.get("withdrawn")
        if not isinstance(withdrawn, bool):
            raise fields.fail("withdrawn", "must be true or false")
        parsed = [_parse_revision(r) for r in fields.items("revisions")]
        submission = SubmissionData(
            uid=fields.text("uid"),
            teacher_id=fields.text("teacher_id"),
            teacher_name=fields.text("teacher_name"),
            withdrawn=withdrawn,
            revisions=[revision for revision, _ in parsed],
        )
        hashes = [sha for _, sha in parsed]
        check_submission(submission, fields.where, markdown_hashes=hashes)
        submissions.append(submission)
        markdown.append(hashes)

    manifest = PackageManifest(
        country=country,
        school_key_id=school_key_id,
        created=created,
        submissions=submissions,
        files=files,
        format_version=format_version,
        kind=kind,
    )
    _check_consistency(manifest, markdown)
    return manifest, markdown


def _check_consistency(manifest: PackageManifest, markdown: list[list[str]]) -> None:
    """Refuse a manifest whose parts contradict each other (a bug or a forgery)."""
    seen: set[str] = set()
    used: set[str] = set()
    for i, (submission, hashes) in enumerate(zip(manifest.submissions, markdown, strict=True)):
        where = f"submissions[{i}] ({submission.uid})"
        if submission.uid in seen:
            raise ManifestError(f"{where} is listed twice")
        seen.add(submission.uid)
        for j, (revision, sha) in enumerate(zip(submission.revisions, hashes, strict=True)):
            label = f"{where}.revisions[{j}]"
            entry = manifest.files.get(sha)
            if entry is None:
                raise ManifestError(f"{label}: its Markdown {sha} is not listed in files")
            if entry.size > MAX_MARKDOWN_BYTES:
                raise ManifestError(
                    f"{label}: its Markdown is {entry.size} bytes, more than "
                    f"{MAX_MARKDOWN_BYTES} (a lesson is far shorter)"
                )
            used.add(sha)
            for k, ref in enumerate(revision.files):
                listed = manifest.files.get(ref.sha256)
                if listed is None:
                    raise ManifestError(f"{label}.files[{k}]: {ref.sha256} is not listed in files")
                if listed.size != ref.size:
                    raise ManifestError(
                        f"{label}.files[{k}]: {ref.name} has {ref.size} bytes here and "
                        f"{listed.size} in files"
                    )
                used.add(ref.sha256)
    unused = sorted(set(manifest.files) - used)
    if unused:
        raise ManifestError(f"file {unused[0]} is listed but no revision uses it")


# ---------------------------------------------------------------------------- building


def _created_of(submissions: list[SubmissionData], created: datetime | str | None) -> str:
    if isinstance(created, datetime):
        return format_created(created)
    if created is not None:
        if not CREATED.match(created):
            raise BuildError(f"created {created!r}: write a UTC time like 2025-01-31T08:00:00Z")
        return created
    # The newest revision's time, so the same outbox always gives the same bytes.
    times = [r.created for s in submissions for r in s.revisions]
    return max(times) if times else "1980-01-01T00:00:00Z"


def plan_package(
    submissions: Iterable[SubmissionData],
    files: dict[str, Path],
    country: str,
    school_key_id: str,
    *,
    created: datetime | str | None = None,
) -> tuple[PackageManifest, dict[str, bytes]]:
    """Work out the manifest and the Markdown blobs of a package, without writing anything."""
    if not COUNTRY_CODE.match(country):
        raise BuildError(f"country {country!r} is not a two-letter lower-case code")
    ordered = sorted(submissions, key=lambda s: s.uid)
    seen: set[str] = set()
    for submission in ordered:
        if submission.uid in seen:
            raise BuildError(f"submission {submission.uid} is given twice")
        seen.add(submission.uid)
        check_submission(submission, f"submission {submission.uid}")
    # Revisions in the order they were made (by the school's clock, ties by uid): the order
    # means nothing to the merge, it only makes the manifest readable and reproducible.
    ordered = [
        replace(s, revisions=sorted(s.revisions, key=lambda r: (r.created, r.uid))) for s in ordered
    ]
    entries: dict[str, FileEntry] = {}
    markdown: dict[str, bytes] = {}
    for submission in ordered:
        for revision in submission.revisions:
            data = revision.markdown.encode("utf-8")
            sha = revision.markdown_sha256
            if len(data) > MAX_MARKDOWN_BYTES:
                raise BuildError(
                    f"revision {revision.uid} of submission {submission.uid}: its text is "
                    f"{len(data)} bytes, more than {MAX_MARKDOWN_BYTES}"
                )
            if sha not in entries:
                entries[sha] = FileEntry(len(data), MARKDOWN_TYPE, f"{revision.uid[:16]}.md")
                markdown[sha] = data
    for submission in ordered:
        for revision in submission.revisions:
            for ref in revision.files:
                known = entries.get(ref.sha256)
                if known is not None:
                    if known.size != ref.size:
                        raise BuildError(
                            f"file {ref.sha256} is given as {known.size} and {ref.size} bytes"
                        )
                    continue
                if ref.sha256 not in files:
                    raise BuildError(
                        f"file {ref.name} ({ref.sha256}) of submission {submission.uid} is "
                        "not among the files given"
                    )
                entries[ref.sha256] = FileEntry(ref.size, ref.media_type, ref.name)
    manifest = PackageManifest(
        country=country,
        school_key_id=school_key_id,
        created=_created_of(ordered, created),
        submissions=ordered,
        files=dict(sorted(entries.items())),
    )
    return manifest, markdown


def build_package(
    submissions: list[SubmissionData],
    files: dict[str, Path],
    country: str,
    school_key: PrivateKey | Path | str,
    out_path: Path | str,
    *,
    created: datetime | str | None = None,
) -> PackageManifest:
    """Write a signed package of ``submissions`` at ``out_path``; return its manifest.

    ``files`` maps the SHA-256 of every attached file to where its bytes are; each is checked
    against its hash and size while written. ``created`` defaults to the newest revision's
    time, so the same submissions, key and files always give the same bytes. The package is
    written under ``OUT.partial`` and renamed once complete and flushed.
    """
    key = school_key if isinstance(school_key, PrivateKey) else load_private_key(school_key)
    manifest, markdown = plan_package(submissions, files, country, key.key_id, created=created)
    manifest_bytes = manifest.to_json_bytes()
    signature = sign(manifest_bytes, key)
    write_container(
        Path(out_path), "package", manifest_bytes, signature, manifest.files, markdown, files
    )
    return manifest


# ---------------------------------------------------------------------------- reading


@dataclass
class ReceivedPackage:
    """A checked package: who sent it (from the enrolment) and what it carries.

    When read into a store, every attached file is in the store under its hash.
    """

    school_key_id: str
    school_name: str
    country: str
    submissions: list[SubmissionData]  # Markdown read back as text
    manifest_sha256: str  # of the exact signed bytes: tells two packages apart
    created: str = ""  # the school server's clock: informational only
    copied: int = 0  # blobs copied into the store by this read
    reused: int = 0  # blobs the store (or an interrupted read) already had


def _school_key(enrolled: EnrolledKeys, signature: Signature) -> PublicKey:
    """Return the enrolled key a package's signature must be made with; refuse an unknown school."""
    school = enrolled.get(signature.key_id)
    if school is None:
        raise UnknownSchool(signature.key_id)
    # The enrolled key, never the one signature.json carries: that one proves nothing.
    return school.public_key


def _check_archive(
    archive: SignedArchive, enrolled: EnrolledKeys
) -> tuple[PackageManifest, list[list[str]], EnrolledSchool, str]:
    """Run every check that needs no blob read: signature, manifest, identity, listing."""
    if archive.entry_problems:
        raise archive.entry_problems[0]
    manifest_bytes, signature = archive.authenticate(
        lambda signature: _school_key(enrolled, signature), "package"
    )
    school = enrolled.schools[signature.key_id]
    manifest, markdown = parse_package_manifest(manifest_bytes)
    if manifest.school_key_id != school.key_id:
        raise BadSignature(
            school.key_id,
            f"the package names key {manifest.school_key_id} as its school but is signed by "
            f"key {school.key_id}",
        )
    if manifest.country != school.country:
        raise CountryMismatch(school.name, school.key_id, school.country, manifest.country)
    listing = archive.listing_problems(manifest.files)
    if listing:
        raise listing[0]
    return manifest, markdown, school, hashlib.sha256(manifest_bytes).hexdigest()


def _with_markdown(
    manifest: PackageManifest, markdown: list[list[str]], read: Callable[[str], bytes]
) -> list[SubmissionData]:
    """Return the submissions with each revision's Markdown read back and checked as text."""
    texts: dict[str, str] = {}
    result = []
    for i, (submission, hashes) in enumerate(zip(manifest.submissions, markdown, strict=True)):
        revisions = []
        for j, (revision, sha) in enumerate(zip(submission.revisions, hashes, strict=True)):
            where = f"submissions[{i}].revisions[{j}].markdown"
            if sha not in texts:
                data = read(sha)
                if hashlib.sha256(data).hexdigest() != sha:
                    raise CorruptBlob(sha, "", "the copy read back does not match its hash")
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise InvalidText(
                        where, f"is not valid UTF-8 text (bad byte at position {error.start})"
                    ) from error
                texts[sha] = validate_text(text, where)
            revisions.append(replace(revision, markdown=texts[sha]))
        result.append(replace(submission, revisions=revisions))
    return result


def verify_package(path: Path | str, enrolled: EnrolledKeys) -> ReceivedPackage:
    """Check a package completely without writing anything; raise at the first problem."""
    with SignedArchive(path) as archive:
        manifest, markdown, school, digest = _check_archive(archive, enrolled)
        markdown_hashes = {sha for hashes in markdown for sha in hashes}
        held: dict[str, bytes] = {}
        for sha, entry in manifest.files.items():
            if sha in markdown_hashes:
                held[sha] = b"".join(archive.iter_blob(sha, entry.size, entry.name))
            else:
                archive.check_blob(sha, entry.size, entry.name)
        submissions = _with_markdown(manifest, markdown, held.__getitem__)
    return ReceivedPackage(
        school.key_id, school.name, school.country, submissions, digest, manifest.created
    )


def read_package(
    path: Path | str,
    enrolled: EnrolledKeys,
    store: BlobStore,
    *,
    progress: Progress | None = None,
    reserve: int = RESERVE_BYTES,
) -> ReceivedPackage:
    """Check the package at ``path`` and put its blobs in ``store``; raise a ``BundleError`` to refuse.

    Blobs are staged in ``STORE/.staging/`` and renamed into the store only once every check
    passed, Markdown included: a refused package leaves the store as it was. An interrupted
    read (stick pulled out) keeps what was staged, and the next read of the same package
    reuses it.
    """
    if not isinstance(enrolled, EnrolledKeys):
        raise TypeError("read_package needs the enrolled schools; there is no unchecked import")
    with SignedArchive(path) as archive:
        manifest, markdown, school, digest = _check_archive(archive, enrolled)
        staging = _staging_dir(store, school.key_id, digest)
        to_copy, staged = blobs_to_stage(manifest.files, store, staging, reserve)
        result = ReceivedPackage(
            school.key_id, school.name, school.country, [], digest, manifest.created
        )

        def read(sha: str) -> bytes:
            candidate = staging / sha
            return (candidate if candidate.is_file() else store.path(sha)).read_bytes()

        try:
            copied = stage_blobs(archive, manifest.files, to_copy, staged, staging, progress)
            result.copied = len(copied)
            result.reused = len(manifest.files) - len(copied)
            result.submissions = _with_markdown(manifest, markdown, read)
        except BundleError as error:
            if not error.resumable:
                remove_staging(staging)
            raise
        except OSError as error:
            raise StoreWriteError(str(staging), error.strerror or str(error)) from error
        publish(to_copy, staging, store)
    return result


def _staging_dir(store: BlobStore, key_id: str, digest: str) -> Path:
    """Return this package's staging folder; drop those of other packages of the same school."""
    # An older package from this school is superseded: the school exports everything not yet
    # acknowledged again.
    prefix = f"{STAGING_PREFIX}{key_id}-"
    return staging_dir(store, prefix, prefix + digest[:16])
