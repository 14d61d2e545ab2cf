"""The plain data everything in ``sync`` shares: curricula, modules, lessons and their files.

Each shape is defined once. ``ModuleInfo`` holds what describes a module (everything but its
lessons and files): a module read from a folder (``Module``), a module as shipped in a
bundle's manifest (``sync.bundle.manifest.ModuleEntry``) and the app's database rows are all
built from its fields, so a new field is added here and nowhere else is it restated.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

Localized = dict[str, str]


def fingerprint_of(data: object) -> str:
    """Return the SHA-256 of ``data`` as sorted JSON: equal data, equal fingerprint."""
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


# ---------------------------------------------------------------------------- curriculum


@dataclass
class Cycle:
    code: str
    name: Localized


@dataclass
class Level:
    code: str
    slug: str
    cycle: str
    isced: int
    grade: int
    name: Localized


@dataclass
class Domain:
    slug: str
    name: Localized


@dataclass
class Subject:
    slug: str
    domain: str
    name: Localized


@dataclass
class Competency:
    code: str
    subject: str
    type: str
    label: Localized
    parent: str | None = None
    levels: list[str] = field(default_factory=list)


@dataclass
class Curriculum:
    code: str
    languages: list[str]
    name: Localized
    framework_id: str
    framework_version: str
    framework_title: Localized
    cycles: list[Cycle]
    levels: list[Level]
    domains: list[Domain]
    subjects: list[Subject]
    competencies: list[Competency]

    def level_codes(self) -> list[str]:
        return [level.code for level in self.levels]

    def subject_slugs(self) -> list[str]:
        return [subject.slug for subject in self.subjects]

    def competency_codes(self) -> list[str]:
        return [node.code for node in self.competencies]

    def fingerprint(self) -> str:
        return fingerprint_of(asdict(self))


# ---------------------------------------------------------------------------- modules


@dataclass
class Variant:
    """A resized copy of an image, made once by the server that loaded it, named by its hash."""

    sha256: str
    media_type: str  # image/webp, image/jpeg or image/png
    width: int
    height: int
    size: int
    path: Path | None = None  # where the bytes are now, when known


@dataclass
class Blob:
    """A media file a module uses, named by the SHA-256 of its bytes."""

    sha256: str
    size: int
    media_type: str
    name: str  # the file's own name, for downloads and the offline ZIP
    path: Path  # where the bytes are now
    # An image already prepared elsewhere: its size and resized variants (an empty list for an
    # animation, served as it is). ``width`` is None when nobody prepared it yet (content read
    # from a folder); the module's fingerprint never depends on these.
    width: int | None = None
    height: int | None = None
    variants: list[Variant] = field(default_factory=list)

    @property
    def prepared(self) -> bool:
        return self.width is not None and self.height is not None


@dataclass
class LessonText:
    lang: str
    title: str
    markdown: str
    media: dict[str, str] = field(default_factory=dict)  # target as written -> sha256


@dataclass
class Lesson:
    slug: str
    position: int
    texts: dict[str, LessonText]  # by language; the module's language is always present


@dataclass
class Author:
    name: str
    role: str = "author"


@dataclass(kw_only=True)
class ModuleInfo:
    """What describes a module: everything but its lessons and files.

    Fields with a default are optional in every format; the others each reader must find.
    """

    id: str
    country: str
    version: int
    language: str
    levels: list[str]
    subject: str
    competencies: list[str] = field(default_factory=list)
    assesses: list[str] = field(default_factory=list)
    resource_type: str
    licence: str
    keywords: list[str] = field(default_factory=list)
    derived_from: list[str] = field(default_factory=list)
    attribution: str = ""
    title: Localized
    summary: Localized
    authors: list[Author] = field(default_factory=list)


def module_info(source: ModuleInfo) -> dict[str, object]:
    """Return a copy of the ``ModuleInfo`` fields of ``source``, to build another shape with."""
    return {f.name: copy.deepcopy(getattr(source, f.name)) for f in fields(ModuleInfo)}


@dataclass(kw_only=True)
class Module(ModuleInfo):
    """A module with its lessons, and its media files where they are now."""

    lessons: list[Lesson]
    blobs: dict[str, Blob] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Return a hash of everything a reader sees, so an unchanged module can be skipped.

        The version number is left out: it says *that* the content changed, not what it is.
        """
        data = asdict(replace(self, blobs={}))  # the blobs' hashes say all of them
        data["blobs"] = sorted(self.blobs)
        del data["version"]
        return fingerprint_of(data)


# ---------------------------------------------------------------------------- files in a manifest


@dataclass(frozen=True)
class VariantEntry:
    """A resized copy of an image, made by the publisher; its bytes travel as a blob."""

    sha256: str
    media_type: str  # one of VARIANT_TYPES
    width: int
    height: int
    size: int

    def to_data(self) -> dict:
        return {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
            "size": self.size,
        }


@dataclass(frozen=True)
class FileEntry:
    """What the manifest says about one blob (its hash is the key it is filed under).

    In a module's ``blobs``, an image the publisher already prepared also has its ``width``
    and ``height`` and its resized ``variants`` (optional, added within format 1).
    """

    size: int
    media_type: str
    name: str
    width: int | None = None
    height: int | None = None
    variants: tuple[VariantEntry, ...] = ()

    @property
    def prepared(self) -> bool:
        return self.width is not None

    def to_data(self) -> dict:
        data: dict = {"size": self.size, "media_type": self.media_type, "name": self.name}
        if self.prepared:
            # Written only for prepared images, so other entries keep their exact bytes.
            data["width"], data["height"] = self.width, self.height
            data["variants"] = [v.to_data() for v in self.variants]
        return data
