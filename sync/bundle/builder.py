"""Build a signed bundle, full or delta, from modules read by ``sync.content``.

The output is written under ``OUT.partial`` (and ``OUT.partial.002`` … when it is split) and
renamed to its final name only once every byte is written, checked and flushed, so a bundle
under its real name is always complete. The same input gives the same bytes: entries come in a
fixed order with fixed timestamps and permissions, the manifest is canonical JSON, its
``created`` time comes from the input, and Ed25519 signatures are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sync import FORMAT_VERSION
from sync.bundle.manifest import (
    CHANNEL,
    CREATED,
    MARKDOWN_TYPE,
    SHA256,
    VARIANT_TYPES,
    ChangelogEntry,
    IndexEntry,
    Manifest,
    ModuleEntry,
    SubmissionStatus,
    check_changelog,
    check_submission_statuses,
    format_created,
    safe_name,
)
from sync.container.keys import PrivateKey, load_private_key, sign
from sync.container.writer import DEFAULT_PART_SIZE, ZIP_EPOCH, Progress, write_container
from sync.content import COUNTRY_CODE, ContentTree
from sync.errors import BuildError, ManifestError
from sync.media import EXTENSION_FOR_TYPE, IMAGE_TYPES
from sync.model import Blob, Curriculum, FileEntry, Module, Variant

# ---------------------------------------------------------------------------- planning


def _resolve_codes(
    wanted: Iterable[str], known: dict[str, str], what: str, country: str
) -> set[str]:
    chosen: set[str] = set()
    for value in wanted:
        code = known.get(value) or known.get(value.lower())
        if code is None:
            listing = ", ".join(sorted(set(known.values())))
            raise BuildError(f"{what} {value!r} is not in the curriculum of {country} ({listing})")
        chosen.add(code)
    return chosen


def select_modules(
    modules: list[Module],
    curriculum: Curriculum,
    levels: Iterable[str] | None = None,
    subjects: Iterable[str] | None = None,
) -> list[Module]:
    """Keep the modules taught at one of ``levels`` and in one of ``subjects`` (None: all)."""
    if levels is not None:
        known = {lv.code: lv.code for lv in curriculum.levels}
        known |= {lv.slug: lv.code for lv in curriculum.levels}
        level_codes = _resolve_codes(levels, known, "level", curriculum.code)
        modules = [m for m in modules if level_codes & set(m.levels)]
    if subjects is not None:
        known = {slug: slug for slug in curriculum.subject_slugs()}
        subject_slugs = _resolve_codes(subjects, known, "subject", curriculum.code)
        modules = [m for m in modules if m.subject in subject_slugs]
    return modules


def inputs_time(paths: Iterable[Path]) -> datetime:
    """Return the newest modification time among ``paths`` and the files below them."""
    newest = 0.0
    for path in paths:
        candidates = path.rglob("*") if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.is_file():
                newest = max(newest, candidate.stat().st_mtime)
    if not newest:
        return datetime(*ZIP_EPOCH, tzinfo=UTC)
    return datetime.fromtimestamp(int(newest), UTC)


def plan_bundle(
    modules: list[Module],
    curriculum: Curriculum,
    country: str,
    version: int,
    publisher_key_id: str,
    *,
    base_manifest: Manifest | None = None,
    channel: str = "main",
    created: datetime | str | None = None,
    submission_statuses: Iterable[SubmissionStatus] = (),
    changelog: Iterable[ChangelogEntry] = (),
) -> tuple[Manifest, dict[str, bytes], dict[str, Path]]:
    """Work out the manifest and which blobs to ship, without writing anything."""
    if not COUNTRY_CODE.match(country):
        raise BuildError(f"country {country!r} is not a two-letter lower-case code")
    if not CHANNEL.match(channel):
        raise BuildError(f"channel {channel!r}: use lower-case letters, digits and hyphens")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BuildError(f"version {version!r} must be a whole number of at least 1")
    if curriculum.code != country:
        raise BuildError(f"the curriculum given is that of {curriculum.code}, not of {country}")
    seen: set[str] = set()
    for module in modules:
        if module.country != country:
            raise BuildError(f"module {module.id} belongs to {module.country}, not to {country}")
        if module.id in seen:
            raise BuildError(f"module {module.id} is given twice")
        seen.add(module.id)
    modules = sorted(modules, key=lambda m: m.id)
    statuses = sorted(submission_statuses, key=lambda item: item.uid)
    try:
        check_submission_statuses(statuses, country)
    except ManifestError as error:
        raise BuildError(str(error).removeprefix("manifest: ")) from error
    changelog = sorted(changelog, key=lambda entry: entry.version)
    try:
        check_changelog(changelog, version)
    except ManifestError as error:
        raise BuildError(str(error).removeprefix("manifest: ")) from error

    if created is None:
        moment = inputs_time(blob.path for m in modules for blob in m.blobs.values())
        created_text = format_created(moment)
    elif isinstance(created, datetime):
        created_text = format_created(created)
    else:
        if not CREATED.match(created):
            raise BuildError(f"created {created!r}: write a UTC time like 2025-01-31T08:00:00Z")
        created_text = created

    entries: list[tuple[ModuleEntry, dict[str, bytes], Module]] = []
    index: dict[str, IndexEntry] = {}
    for module in modules:
        entry, markdown = ModuleEntry.from_module(module)
        entries.append((entry, markdown, module))
        index[module.id] = IndexEntry(
            entry.version, entry.fingerprint, tuple(sorted(entry.hashes()))
        )

    base_hashes: set[str] = set()
    tombstones: list[str] = []
    if base_manifest is not None:
        base = base_manifest
        if (base.country, base.channel) != (country, channel):
            raise BuildError(
                f"the base bundle is for {base.country}/{base.channel}, not {country}/{channel}"
            )
        if base.version >= version:
            raise BuildError(
                f"version {version} must be higher than the base bundle's version {base.version}"
            )
        for entry, _, _ in entries:
            before = base.index.get(entry.id)
            if before is None or before.fingerprint == entry.fingerprint:
                continue
            if entry.version <= before.version:
                # Schools and teachers refer to a module by its version: two contents under one
                # version number would be indistinguishable.
                raise BuildError(
                    f"module {entry.id} changed since version {base.version} of the bundle but "
                    f"its version is still {entry.version} (was {before.version}); raise "
                    "`version` in its module.toml"
                )
        base_hashes = {sha for item in base.index.values() for sha in item.hashes}
        tombstones = sorted(set(base.index) - set(index))
        unchanged = {
            mid for mid, item in index.items() if mid in base.index and base.index[mid] == item
        }
        entries = [item for item in entries if item[0].id not in unchanged]

    files: dict[str, FileEntry] = {}
    markdown_blobs: dict[str, bytes] = {}
    media: dict[str, Path] = {}
    for entry, markdown, module in entries:
        for lesson in entry.lessons:
            for lang, text in sorted(lesson.texts.items()):
                sha = text.markdown
                if sha in base_hashes or sha in files:
                    continue
                name = f"{lesson.position:02d}-{lesson.slug}.{lang}.md"
                files[sha] = FileEntry(len(markdown[sha]), MARKDOWN_TYPE, name)
                markdown_blobs[sha] = markdown[sha]
        for sha, file_entry in sorted(entry.blobs.items()):
            if sha in base_hashes or sha in files:
                continue
            files[sha] = FileEntry(file_entry.size, file_entry.media_type, file_entry.name)
            media[sha] = module.blobs[sha].path
        for blob in sorted(module.blobs.values(), key=lambda b: b.sha256):
            # The image variants the publisher made travel as blobs too, so schools need not
            # make them again; like media, only those the base chain does not hold.
            for variant in blob.variants:
                _check_variant(module.id, blob, variant)
                if variant.sha256 in base_hashes or variant.sha256 in files:
                    continue
                if variant.path is None:
                    raise BuildError(
                        f"module {module.id}: the variant {variant.sha256} of {blob.name} has no file"
                    )
                stem = blob.name.rsplit(".", 1)[0] if "." in blob.name else blob.name
                extension = EXTENSION_FOR_TYPE[variant.media_type]
                files[variant.sha256] = FileEntry(
                    variant.size,
                    variant.media_type,
                    safe_name(f"{stem}-{variant.width}{extension}"),
                )
                media[variant.sha256] = variant.path

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        country=country,
        channel=channel,
        version=version,
        base_version=base_manifest.version if base_manifest is not None else None,
        created=created_text,
        publisher_key_id=publisher_key_id,
        curriculum=curriculum,
        modules=[entry for entry, _, _ in entries],
        tombstones=tombstones,
        files=files,
        index=index,
        submission_statuses=statuses,
        changelog=changelog,
    )
    return manifest, markdown_blobs, media


def _check_variant(module_id: str, blob: Blob, variant: Variant) -> None:
    """Refuse a variant that readers would refuse, before anything is written."""
    if (
        blob.media_type not in IMAGE_TYPES
        or not blob.prepared
        or variant.media_type not in VARIANT_TYPES
        or not SHA256.match(variant.sha256)
        or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1
            for n in (variant.width, variant.height, variant.size, blob.width, blob.height)
        )
    ):
        raise BuildError(f"module {module_id}: {blob.name} has a malformed variant {variant}")


# ---------------------------------------------------------------------------- writing


def build_bundle(
    source: ContentTree | Iterable[Module],
    curriculum: Curriculum | None,
    country: str,
    version: int,
    out_path: Path | str,
    private_key: PrivateKey | Path | str,
    *,
    base_manifest: Manifest | None = None,
    levels: Iterable[str] | None = None,
    subjects: Iterable[str] | None = None,
    channel: str = "main",
    created: datetime | str | None = None,
    progress: Progress | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    submission_statuses: Iterable[SubmissionStatus] = (),
    changelog: Iterable[ChangelogEntry] = (),
) -> Manifest:
    """Build and sign a bundle of ``country``'s modules at ``out_path``; return its manifest.

    With ``base_manifest`` the bundle is a delta: it ships the modules whose fingerprint
    changed, only the blobs the base chain does not already hold, and a tombstone for every
    module of the base that is gone. ``created`` defaults to the newest modification time of
    the media files, so callers reading from disk should pass the newest time of the whole
    content folder (``inputs_time``), as the command line does. ``submission_statuses`` travel
    signed with the manifest, back to the school servers whose teachers sent the submissions;
    ``changelog`` tells the schools what each version changed.
    """
    key = private_key if isinstance(private_key, PrivateKey) else load_private_key(private_key)
    if isinstance(source, ContentTree):
        if source.problems:
            shown = "; ".join(str(p) for p in source.problems[:3])
            more = f" (and {len(source.problems) - 3} more)" if len(source.problems) > 3 else ""
            raise BuildError(f"the content has problems; fix them first: {shown}{more}")
        if curriculum is None:
            curriculum = source.curricula.get(country)
        modules = [m for m in source.modules if m.country == country]
    else:
        modules = list(source)
    if curriculum is None:
        raise BuildError(f"no curriculum for country {country!r} in the content")
    modules = select_modules(modules, curriculum, levels, subjects)
    if not modules and base_manifest is None:
        raise BuildError(f"no module of {country} matches the levels and subjects chosen")
    manifest, markdown, media = plan_bundle(
        modules,
        curriculum,
        country,
        version,
        key.key_id,
        base_manifest=base_manifest,
        channel=channel,
        created=created,
        submission_statuses=submission_statuses,
        changelog=changelog,
    )
    manifest_bytes = manifest.to_json_bytes()
    signature = sign(manifest_bytes, key)

    write_container(
        Path(out_path),
        "bundle",
        manifest_bytes,
        signature,
        manifest.files,
        markdown,
        media,
        part_size=part_size,
        progress=progress,
    )
    return manifest
