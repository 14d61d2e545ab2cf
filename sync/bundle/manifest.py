"""The bundle manifest: plain dataclasses, canonical JSON, and strict parsing with clear errors.

The manifest is the only thing that is signed, so it must describe everything: the curriculum,
each shipped module with its lessons (whose Markdown travels as blobs, named by hash) and the
size and hash of every blob. Canonical JSON (sorted keys, UTF-8, no spaces) makes the same
input give the same bytes, so a rebuilt bundle has the same manifest and the same signature.

Reading follows the rules of docs/bundle-format.md: a newer format version is refused with an
"update the software" message, unknown fields are ignored (additions that an older reader may
safely skip do not bump the format version), and every field a reader relies on is checked for
presence, type and shape before use, naming its place (``modules[2].lessons[0].slug``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sync import FORMAT_VERSION
from sync.container.archive import MAX_MANIFEST_BYTES
from sync.content import COUNTRY_CODE, MODULE_ID, SLUG
from sync.errors import ManifestError, UnsupportedFormat
from sync.media import IMAGE_TYPES
from sync.model import (
    Author,
    Blob,
    Competency,
    Curriculum,
    Cycle,
    Domain,
    FileEntry,
    Lesson,
    LessonText,
    Level,
    Localized,
    Module,
    ModuleInfo,
    Subject,
    Variant,
    VariantEntry,
    module_info,
)

OLDEST_FORMAT_VERSION = 1
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHANNEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANG = re.compile(r"^[a-z]{2}$")
CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
SUBMISSION_UID = re.compile(r"^[a-z0-9][a-z0-9_-]{15,63}$")
SUBMISSION_STATUSES = (
    "received",
    "in_review",
    "changes_requested",
    "accepted",
    "rejected",
    "withdrawn",
)
# The revision uid of a status about a submission the national server holds no revision of
# (a withdrawal that arrived without the work it withdraws).
NO_REVISION = "0" * 64
# C0 control characters other than tab, line feed and carriage return, and UTF-16 surrogates
# (a str only holds one when it was decoded from something that was not valid Unicode).
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
MARKDOWN_TYPE = "text/markdown; charset=utf-8"
VARIANT_TYPES = ("image/webp", "image/jpeg", "image/png")


def canonical_json(data: object) -> bytes:
    """Encode ``data`` the one way a manifest is written: sorted keys, UTF-8, no spaces."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def format_created(moment: datetime) -> str:
    """Return ``moment`` as the manifest writes it: UTC, to the second, with a Z."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_name(name: str) -> str:
    """Return ``name`` with what Windows or FAT32 would refuse replaced, so readers accept it."""
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 or ord(c) == 127 else c for c in name)
    cleaned = cleaned.strip(" .")[:255]
    return cleaned if is_safe_name(cleaned) else "file"


def is_safe_name(name: str) -> bool:
    """Tell whether ``name`` can be used as a plain file name on any system."""
    return (
        0 < len(name) <= 255
        and name not in (".", "..")
        and not any(c in name for c in '/\\:*?"<>|')
        and all(ord(c) >= 32 and ord(c) != 127 for c in name)
    )


# ---------------------------------------------------------------------------- data


@dataclass
class LessonTextEntry:
    lang: str
    title: str
    markdown: str  # sha256 of the UTF-8 Markdown
    media: dict[str, str] = field(default_factory=dict)  # target as written -> sha256


@dataclass
class LessonEntry:
    slug: str
    position: int
    texts: dict[str, LessonTextEntry]


@dataclass(kw_only=True)
class ModuleEntry(ModuleInfo):
    """A module as shipped: ``sync.model.Module`` without paths, Markdown replaced by hashes."""

    lessons: list[LessonEntry]
    blobs: dict[str, FileEntry]  # media only, so a delta's module is complete on its own
    fingerprint: str

    def markdown_hashes(self) -> set[str]:
        return {text.markdown for lesson in self.lessons for text in lesson.texts.values()}

    def variant_hashes(self) -> set[str]:
        return {v.sha256 for f in self.blobs.values() for v in f.variants}

    def hashes(self) -> set[str]:
        """Return every blob the module needs: its Markdown, its media and their variants."""
        return self.markdown_hashes() | set(self.blobs) | self.variant_hashes()

    @classmethod
    def from_module(cls, module: Module) -> tuple[ModuleEntry, dict[str, bytes]]:
        """Describe ``module``; also return its Markdown blobs by hash."""
        markdown: dict[str, bytes] = {}
        lessons = []
        for lesson in module.lessons:
            texts = {}
            for lang, text in sorted(lesson.texts.items()):
                data = text.markdown.encode("utf-8")
                sha256 = hashlib.sha256(data).hexdigest()
                markdown[sha256] = data
                texts[lang] = LessonTextEntry(lang, text.title, sha256, dict(text.media))
            lessons.append(LessonEntry(lesson.slug, lesson.position, texts))
        entry = cls(
            **module_info(module),
            lessons=lessons,
            blobs={sha: _blob_entry(blob) for sha, blob in sorted(module.blobs.items())},
            fingerprint=module.fingerprint(),
        )
        return entry, markdown

    def to_module(self, markdown: Callable[[str], str], blob_path: Callable[[str], Path]) -> Module:
        """Rebuild the module, reading Markdown and locating media through the callbacks."""
        return Module(
            **module_info(self),
            lessons=[
                Lesson(
                    slug=lesson.slug,
                    position=lesson.position,
                    texts={
                        lang: LessonText(lang, t.title, markdown(t.markdown), dict(t.media))
                        for lang, t in lesson.texts.items()
                    },
                )
                for lesson in self.lessons
            ],
            blobs={
                sha: Blob(
                    sha,
                    f.size,
                    f.media_type,
                    f.name,
                    blob_path(sha),
                    width=f.width,
                    height=f.height,
                    variants=[
                        Variant(
                            v.sha256, v.media_type, v.width, v.height, v.size, blob_path(v.sha256)
                        )
                        for v in f.variants
                    ],
                )
                for sha, f in self.blobs.items()
            },
        )

    def to_data(self) -> dict:
        data = asdict(replace(self, blobs={}))
        data["blobs"] = {sha: f.to_data() for sha, f in self.blobs.items()}
        return data


def _blob_entry(blob: Blob) -> FileEntry:
    if not blob.prepared:
        return FileEntry(blob.size, blob.media_type, safe_name(blob.name))
    variants = sorted(
        (VariantEntry(v.sha256, v.media_type, v.width, v.height, v.size) for v in blob.variants),
        key=lambda v: (v.width, v.media_type, v.sha256),
    )
    return FileEntry(
        blob.size, blob.media_type, safe_name(blob.name), blob.width, blob.height, tuple(variants)
    )


@dataclass(frozen=True)
class IndexEntry:
    """One module of the channel at this version, listed even when a delta does not ship it."""

    version: int
    fingerprint: str
    hashes: tuple[str, ...]  # every blob it needs, sorted: lets the next delta skip them

    def to_data(self) -> dict:
        return {"version": self.version, "fingerprint": self.fingerprint, "hashes": self.hashes}


@dataclass(frozen=True)
class SubmissionStatus:
    """Where a teacher's submission stands on the national server, sent back down to schools."""

    uid: str  # the submission's uid, as made on the school server
    status: str  # one of SUBMISSION_STATUSES
    comment: str
    module_id: str | None  # the published module when accepted, else None
    revision_uid: str  # the revision the status is about

    def to_data(self) -> dict:
        return {
            "uid": self.uid,
            "status": self.status,
            "comment": self.comment,
            "module_id": self.module_id,
            "revision_uid": self.revision_uid,
        }


CHANGES = ("added", "changed", "removed")
MAX_NOTE_CHARS = 2000
MAX_CHANGELOG_ENTRIES = 50


@dataclass(frozen=True)
class ChangedModule:
    id: str
    change: str  # one of CHANGES
    title: Localized  # empty for a removed module whose title the publisher no longer has

    def to_data(self) -> dict:
        return {"id": self.id, "change": self.change, "title": dict(self.title)}


@dataclass(frozen=True)
class ChangelogEntry:
    """What one version of a channel changed, recorded by its publisher when building it.

    A bundle carries the entries of the versions a school gains by installing it: a delta
    those after its base, a full bundle the last few.
    """

    version: int
    note: str = ""  # what the national team wrote about this version, for the schools
    modules: tuple[ChangedModule, ...] = ()
    curriculum_changed: bool = False
    decisions: int = 0  # review decisions on teachers' submissions sent with this version

    @property
    def empty(self) -> bool:
        return not (self.note or self.modules or self.curriculum_changed or self.decisions)

    def of(self, change: str) -> list[ChangedModule]:
        return [item for item in self.modules if item.change == change]

    def to_data(self) -> dict:
        return {
            "version": self.version,
            "note": self.note,
            "modules": [item.to_data() for item in self.modules],
            "curriculum_changed": self.curriculum_changed,
            "decisions": self.decisions,
        }


@dataclass
class Manifest:
    country: str
    channel: str
    version: int
    base_version: int | None
    created: str
    publisher_key_id: str
    curriculum: Curriculum
    modules: list[ModuleEntry]
    tombstones: list[str]
    files: dict[str, FileEntry]
    index: dict[str, IndexEntry]
    format_version: int = FORMAT_VERSION
    # Optional, added within format 1: readers that predate it ignore it, and a manifest
    # without it reads as having none.
    submission_statuses: list[SubmissionStatus] = field(default_factory=list)
    # Optional too, added within format 1; by version, oldest first.
    changelog: list[ChangelogEntry] = field(default_factory=list)

    @property
    def is_delta(self) -> bool:
        return self.base_version is not None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.values())

    def referenced_hashes(self) -> set[str]:
        """Return every blob the shipped modules need, in this bundle or in the base chain."""
        return set().union(*(m.hashes() for m in self.modules)) if self.modules else set()

    def describe(self) -> str:
        kind = f"update from version {self.base_version}" if self.is_delta else "full"
        return f"{self.country}/{self.channel} version {self.version} ({kind})"

    def to_data(self) -> dict:
        data = {
            "format_version": self.format_version,
            "country": self.country,
            "channel": self.channel,
            "version": self.version,
            "base_version": self.base_version,
            "created": self.created,
            "publisher_key_id": self.publisher_key_id,
            "curriculum": asdict(self.curriculum),
            "modules": [m.to_data() for m in self.modules],
            "tombstones": list(self.tombstones),
            "files": {sha: f.to_data() for sha, f in self.files.items()},
            "index": {mid: e.to_data() for mid, e in self.index.items()},
        }
        if self.submission_statuses:
            # Written only when there are some, so a bundle without statuses keeps the exact
            # bytes it had before the field existed.
            data["submission_statuses"] = [s.to_data() for s in self.submission_statuses]
        if self.changelog:  # likewise
            data["changelog"] = [entry.to_data() for entry in self.changelog]
        return data

    def to_json_bytes(self) -> bytes:
        """Return the exact bytes that are signed and stored as ``manifest.json``."""
        return canonical_json(self.to_data())


# ---------------------------------------------------------------------------- parsing


class Fields:
    """Typed access to one JSON object, failing with the path of the field at fault."""

    def __init__(self, value: object, where: str):
        if not isinstance(value, dict):
            raise ManifestError(f"{where or 'the manifest'} must be a JSON object")
        self.data: dict = value
        self.where = where

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str) -> object:
        if key not in self.data:
            raise ManifestError(f"{self._path(key)} is missing")
        return self.data[key]

    def fail(self, key: str, message: str) -> ManifestError:
        return ManifestError(f"{self._path(key)} {message}")

    def text(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.fail(key, "must be a text")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"is not {what or 'in the expected form'}: {value[:80]!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        if self.data.get(key) is None:
            return None
        return self.text(key)

    def integer(self, key: str, minimum: int = 0) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number of at least {minimum}")
        return value

    def texts(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "") -> list[str]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of texts")
        for item in value:
            if pattern is not None and not pattern.match(item):
                raise self.fail(key, f"holds {item[:80]!r}, which is not {what}")
        return list(value)

    def localized(self, key: str) -> Localized:
        value = self.get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and LANG.match(k) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(key, "must map language codes to texts")
        return dict(value)

    def obj(self, key: str) -> Fields:
        return Fields(self.get(key), self._path(key))

    def items(self, key: str) -> list[Fields]:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return [Fields(item, f"{self._path(key)}[{i}]") for i, item in enumerate(value)]

    def mapping(self, key: str, key_pattern: re.Pattern[str], what: str) -> dict[str, object]:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "must be a JSON object")
        for name in value:
            if not key_pattern.match(name):
                raise self.fail(key, f"has the key {name[:80]!r}, which is not {what}")
        return value


def reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """Build a JSON object, refusing a key that appears twice."""
    # Two readers could pick different values of a repeated key: the signed bytes would then not
    # say one thing. A repeated key is therefore a malformed manifest.
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise ManifestError(f"the key {key!r} appears twice in one object")
        data[key] = value
    return data


def reject_constant(name: str) -> object:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ManifestError(f"{name} is not allowed in a manifest")


def parse_manifest(data: bytes) -> Manifest:
    """Parse manifest bytes (already authenticated) into a ``Manifest``, or raise a clear error."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"is {len(data)} bytes, more than any real manifest")
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text, object_pairs_hook=reject_duplicates, parse_constant=reject_constant
        )
    except UnicodeDecodeError as error:
        raise ManifestError("is not UTF-8 text") from error
    except json.JSONDecodeError as error:
        raise ManifestError(f"is not valid JSON ({error})") from error
    except RecursionError:
        raise ManifestError("nests arrays or objects too deeply to be a manifest") from None
    top = Fields(value, "")
    # The format version is read first, alone: everything else may mean something else in
    # another version.
    format_version = top.integer("format_version", minimum=0)
    if not OLDEST_FORMAT_VERSION <= format_version <= FORMAT_VERSION:
        raise UnsupportedFormat(format_version, FORMAT_VERSION, OLDEST_FORMAT_VERSION)

    country = top.text("country", COUNTRY_CODE, "a two-letter lower-case country code")
    base = top.get("base_version")
    if base is not None:
        base = top.integer("base_version", minimum=1)
    files = {
        sha: _file_entry(Fields(entry, f"files.{sha[:12]}…"))
        for sha, entry in top.mapping("files", SHA256, "a SHA-256 hex digest").items()
    }
    index = {}
    for module_id, entry in top.mapping("index", MODULE_ID, "a module id").items():
        fields = Fields(entry, f"index.{module_id}")
        hashes = fields.texts("hashes", SHA256, "a SHA-256 hex digest")
        index[module_id] = IndexEntry(
            fields.integer("version", minimum=1),
            fields.text("fingerprint", SHA256, "a SHA-256 hex digest"),
            tuple(hashes),
        )
    statuses = []
    if top.data.get("submission_statuses") is not None:  # absent from older bundles
        statuses = [_submission_status(f) for f in top.items("submission_statuses")]
    changelog = []
    if top.data.get("changelog") is not None:  # absent from older bundles
        changelog = [_changelog_entry(f) for f in top.items("changelog")]
    manifest = Manifest(
        format_version=format_version,
        country=country,
        channel=top.text("channel", CHANNEL, "a channel name (a-z, 0-9, hyphens)"),
        version=top.integer("version", minimum=1),
        base_version=base,
        created=top.text("created", CREATED, "a UTC time like 2025-01-31T08:00:00Z"),
        publisher_key_id=top.text("publisher_key_id", KEY_ID, "a 16-digit key id"),
        curriculum=_curriculum(top.obj("curriculum")),
        modules=[_module(fields) for fields in top.items("modules")],
        tombstones=top.texts("tombstones", MODULE_ID, "a module id"),
        files=files,
        index=index,
        submission_statuses=statuses,
        changelog=changelog,
    )
    _check_consistency(manifest)
    return manifest


def _changelog_entry(fields: Fields) -> ChangelogEntry:
    modules = []
    for item in fields.items("modules"):
        change = item.text("change")
        if change not in CHANGES:
            raise item.fail("change", f"is {change[:80]!r}, not one of {', '.join(CHANGES)}")
        modules.append(
            ChangedModule(
                id=item.text("id", MODULE_ID, "a module id"),
                change=change,
                title=item.localized("title"),
            )
        )
    curriculum_changed = fields.get("curriculum_changed")
    if not isinstance(curriculum_changed, bool):
        raise fields.fail("curriculum_changed", "must be true or false")
    return ChangelogEntry(
        version=fields.integer("version", minimum=1),
        note=fields.text("note"),
        modules=tuple(modules),
        curriculum_changed=curriculum_changed,
        decisions=fields.integer("decisions"),
    )


def check_changelog(changelog: list[ChangelogEntry], version: int) -> None:
    """Refuse a changelog a reader could not show in one order; raise ``ManifestError``."""
    if len(changelog) > MAX_CHANGELOG_ENTRIES:
        raise ManifestError(f"changelog has more than {MAX_CHANGELOG_ENTRIES} entries")
    versions = [entry.version for entry in changelog]
    if versions != sorted(set(versions)):
        raise ManifestError("changelog: versions must be listed once each, oldest first")
    for entry in changelog:
        where = f"changelog (version {entry.version})"
        if entry.version > version:
            raise ManifestError(f"{where} is newer than the bundle's version {version}")
        if len(entry.note) > MAX_NOTE_CHARS:
            raise ManifestError(f"{where}: the note is longer than {MAX_NOTE_CHARS} characters")
        texts = [entry.note] + [t for item in entry.modules for t in item.title.values()]
        if any(FORBIDDEN_CHARACTERS.search(text) for text in texts):
            raise ManifestError(
                f"{where}: a text contains a NUL, a control character or a lone surrogate"
            )


def _submission_status(fields: Fields) -> SubmissionStatus:
    status = fields.text("status")
    if status not in SUBMISSION_STATUSES:
        raise fields.fail(
            "status", f"is {status[:80]!r}, not one of {', '.join(SUBMISSION_STATUSES)}"
        )
    module_id = fields.optional_text("module_id")
    if module_id is not None and not MODULE_ID.match(module_id):
        raise fields.fail("module_id", f"is not a module id: {module_id[:80]!r}")
    return SubmissionStatus(
        uid=fields.text("uid", SUBMISSION_UID, "a submission uid"),
        status=status,
        comment=fields.text("comment"),
        module_id=module_id,
        revision_uid=fields.text("revision_uid", SHA256, "a revision uid (a SHA-256 hex digest)"),
    )


def check_submission_statuses(statuses: list[SubmissionStatus], country: str) -> None:
    """Refuse statuses that contradict each other or the country; raise ``ManifestError``."""
    seen: set[str] = set()
    for i, item in enumerate(statuses):
        where = f"submission_statuses[{i}] ({item.uid})"
        if not SUBMISSION_UID.match(item.uid) or not SHA256.match(item.revision_uid):
            raise ManifestError(f"{where}: the submission or revision uid is malformed")
        if item.uid in seen:
            # Two statuses for one submission: readers could pick either.
            raise ManifestError(f"{where} is listed twice")
        seen.add(item.uid)
        if item.status not in SUBMISSION_STATUSES:
            raise ManifestError(f"{where}: unknown status {item.status!r}")
        if item.module_id is not None and item.status != "accepted":
            raise ManifestError(f"{where}: only an accepted submission names a module")
        if item.module_id is not None and not item.module_id.startswith(country + "-"):
            raise ManifestError(f"{where}: module {item.module_id} does not belong to {country}")
        if FORBIDDEN_CHARACTERS.search(item.comment):
            raise ManifestError(
                f"{where}: the comment contains a NUL, a control character or a lone surrogate"
            )


def _file_entry(fields: Fields) -> FileEntry:
    name = fields.text("name")
    if not is_safe_name(name):
        raise fields.fail("name", f"{name[:80]!r} is not a plain file name")
    return FileEntry(fields.integer("size"), fields.text("media_type"), name)


def _module_blob(fields: Fields) -> FileEntry:
    """Read a module's blob entry, with the optional size and variants of a prepared image."""
    entry = _file_entry(fields)
    if all(fields.data.get(key) is None for key in ("width", "height", "variants")):
        return entry  # absent from older bundles and from content read from folders
    if entry.media_type not in IMAGE_TYPES:
        raise fields.fail("variants", f"are given for {entry.media_type[:80]!r}, not an image")
    variants = []
    for item in fields.items("variants"):
        media_type = item.text("media_type")
        if media_type not in VARIANT_TYPES:
            raise item.fail("media_type", f"is {media_type[:80]!r}, not one of {VARIANT_TYPES}")
        variants.append(
            VariantEntry(
                sha256=item.text("sha256", SHA256, "a SHA-256 hex digest"),
                media_type=media_type,
                width=item.integer("width", minimum=1),
                height=item.integer("height", minimum=1),
                size=item.integer("size", minimum=1),
            )
        )
    return FileEntry(
        entry.size,
        entry.media_type,
        entry.name,
        fields.integer("width", minimum=1),
        fields.integer("height", minimum=1),
        tuple(variants),
    )


def _curriculum(fields: Fields) -> Curriculum:
    return Curriculum(
        code=fields.text("code", COUNTRY_CODE, "a country code"),
        languages=fields.texts("languages", LANG, "a language code"),
        name=fields.localized("name"),
        framework_id=fields.text("framework_id"),
        framework_version=fields.text("framework_version"),
        framework_title=fields.localized("framework_title"),
        cycles=[Cycle(f.text("code"), f.localized("name")) for f in fields.items("cycles")],
        levels=[
            Level(
                code=f.text("code"),
                slug=f.text("slug", SLUG, "a slug"),
                cycle=f.text("cycle"),
                isced=f.integer("isced"),
                grade=f.integer("grade"),
                name=f.localized("name"),
            )
            for f in fields.items("levels")
        ],
        domains=[
            Domain(f.text("slug", SLUG, "a slug"), f.localized("name"))
            for f in fields.items("domains")
        ],
        subjects=[
            Subject(f.text("slug", SLUG, "a slug"), f.text("domain"), f.localized("name"))
            for f in fields.items("subjects")
        ],
        competencies=[
            Competency(
                code=f.text("code"),
                subject=f.text("subject"),
                type=f.text("type"),
                label=f.localized("label"),
                parent=f.optional_text("parent"),
                levels=f.texts("levels"),
            )
            for f in fields.items("competencies")
        ],
    )


def _module(fields: Fields) -> ModuleEntry:
    lessons = []
    for lesson in fields.items("lessons"):
        texts = {}
        for lang, value in lesson.mapping("texts", LANG, "a language code").items():
            text = Fields(value, f"{lesson.where}.texts.{lang}")
            if text.text("lang") != lang:
                raise text.fail("lang", f"must be {lang!r}, the key it is filed under")
            media = text.mapping("media", re.compile(r"^.+$", re.DOTALL), "a link target")
            for target, sha in media.items():
                if not isinstance(sha, str) or not SHA256.match(sha):
                    raise text.fail("media", f"maps {target[:80]!r} to something not a hash")
            texts[lang] = LessonTextEntry(
                lang=lang,
                title=text.text("title"),
                markdown=text.text("markdown", SHA256, "a SHA-256 hex digest"),
                media=dict(media),  # type: ignore[arg-type]  # values checked just above
            )
        lessons.append(
            LessonEntry(
                slug=lesson.text("slug", SLUG, "a slug"),
                position=lesson.integer("position"),
                texts=texts,
            )
        )
    blobs = {
        sha: _module_blob(Fields(value, f"{fields.where}.blobs.{sha[:12]}…"))
        for sha, value in fields.mapping("blobs", SHA256, "a SHA-256 hex digest").items()
    }
    authors = [Author(a.text("name"), a.text("role")) for a in fields.items("authors")]
    return ModuleEntry(
        id=fields.text("id", MODULE_ID, "a module id"),
        country=fields.text("country", COUNTRY_CODE, "a country code"),
        version=fields.integer("version", minimum=1),
        language=fields.text("language", LANG, "a language code"),
        levels=fields.texts("levels"),
        subject=fields.text("subject"),
        competencies=fields.texts("competencies"),
        assesses=fields.texts("assesses"),
        resource_type=fields.text("resource_type"),
        licence=fields.text("licence"),
        keywords=fields.texts("keywords"),
        derived_from=fields.texts("derived_from"),
        attribution=fields.text("attribution"),
        title=fields.localized("title"),
        summary=fields.localized("summary"),
        authors=authors,
        lessons=lessons,
        blobs=blobs,
        fingerprint=fields.text("fingerprint", SHA256, "a SHA-256 hex digest"),
    )


def _check_consistency(manifest: Manifest) -> None:
    """Refuse a manifest whose parts contradict each other (a builder bug or a forgery)."""
    country = manifest.country
    if manifest.curriculum.code != country:
        raise ManifestError(
            f"the curriculum is that of {manifest.curriculum.code!r}, not of {country!r}"
        )
    if manifest.base_version is not None and manifest.base_version >= manifest.version:
        raise ManifestError(
            f"base_version {manifest.base_version} must be lower than version {manifest.version}"
        )
    check_changelog(manifest.changelog, manifest.version)
    try:
        datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as error:
        raise ManifestError(f"created {manifest.created!r} is not a real date") from error
    seen: set[str] = set()
    for i, module in enumerate(manifest.modules):
        where = f"modules[{i}] ({module.id})"
        if module.id in seen:
            raise ManifestError(f"{where} is listed twice")
        seen.add(module.id)
        if module.country != country or not module.id.startswith(country + "-"):
            raise ManifestError(f"{where} does not belong to country {country}")
        listed = manifest.index.get(module.id)
        if listed is None:
            raise ManifestError(f"{where} is missing from the index")
        if (listed.version, listed.fingerprint, tuple(sorted(module.hashes()))) != (
            module.version,
            module.fingerprint,
            listed.hashes,
        ):
            raise ManifestError(f"{where} does not match its index entry")
        slugs, positions = set(), set()
        for lesson in module.lessons:
            if lesson.slug in slugs or lesson.position in positions:
                raise ManifestError(f"{where}: lesson {lesson.slug} is listed twice")
            slugs.add(lesson.slug)
            positions.add(lesson.position)
            if module.language not in lesson.texts:
                raise ManifestError(f"{where}: lesson {lesson.slug} has no {module.language} text")
            for text in lesson.texts.values():
                for sha in text.media.values():
                    if sha not in module.blobs:
                        raise ManifestError(
                            f"{where}: lesson {lesson.slug} uses media {sha} "
                            "that the module does not list"
                        )
        for sha, entry in module.blobs.items():
            shipped = manifest.files.get(sha)
            if shipped is not None and shipped.size != entry.size:
                raise ManifestError(f"{where}: media {sha} has two different sizes")
            for variant in entry.variants:
                shipped = manifest.files.get(variant.sha256)
                if shipped is not None and shipped.size != variant.size:
                    raise ManifestError(
                        f"{where}: variant {variant.sha256} of media {sha} has two different sizes"
                    )
    for module_id in manifest.index:
        if not module_id.startswith(country + "-"):
            raise ManifestError(f"index entry {module_id} does not belong to country {country}")
    if len(set(manifest.tombstones)) != len(manifest.tombstones):
        raise ManifestError("a module is listed twice in tombstones")
    for module_id in manifest.tombstones:
        if module_id in manifest.index:
            raise ManifestError(f"module {module_id} is both removed and present")
    check_submission_statuses(manifest.submission_statuses, country)
    referenced = manifest.referenced_hashes()
    unused = sorted(set(manifest.files) - referenced)
    if unused:
        raise ManifestError(f"file {unused[0]} is listed but no module uses it")
    if not manifest.is_delta:
        if manifest.tombstones:
            raise ManifestError("a full bundle cannot remove modules (tombstones must be empty)")
        if set(manifest.index) != seen:
            raise ManifestError("a full bundle must ship every module of its index")
        missing = sorted(referenced - set(manifest.files))
        if missing:
            raise ManifestError(f"file {missing[0]} is used but a full bundle does not ship it")
