"""Open a bundle (one file or its parts), check it entry by entry, and verify it without importing.

Nothing in a bundle is trusted before it is checked. In order: the archive's entry names (only
``manifest.json``, ``signature.json`` and ``blobs/<sha256>``), the signature over the exact
manifest bytes (before the manifest is parsed), the manifest itself, then each blob's declared
size against the archive's headers and compression ratio (so a decompression bomb is refused
before a byte is inflated), and finally each blob's bytes, read with a hard cap at the declared
size and hashed with SHA-256 (the archive's CRC-32 only guards against accidents).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sync.bundle.errors import (
    BadSignature,
    BundleError,
    BundleNotFound,
    BundleReadError,
    CorruptBlob,
    DecompressionBomb,
    DuplicateEntry,
    KeyNotAllowed,
    MissingBlob,
    MissingPart,
    NotABundle,
    OversizedBlob,
    SignatureMissing,
    TruncatedBlob,
    UnexpectedEntry,
    UnsafeEntryName,
    UnsupportedEntry,
    UntrustedKey,
    human_size,
)
from sync.bundle.keys import MAX_SIGNATURE_BYTES, Signature, TrustedKey, TrustStore
from sync.bundle.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
BLOB_PREFIX = "blobs/"
BUNDLE_SUFFIX = ".icb"
ENTRY_NAME = re.compile(r"^(?:manifest\.json|signature\.json|blobs/[0-9a-f]{64})$")
PART_SUFFIX = re.compile(r"^\.(\d{3})$")
CHUNK = 1 << 20
# A ZIP local file header: signature, then (at offset 26) the lengths of the name and extra field.
LOCAL_HEADER = struct.Struct("<4s22xHH")
LOCAL_SIGNATURE = b"PK\x03\x04"
# Deflate never grows data by more than a few bytes per 16 KiB block, and never shrinks it by
# more than about 1032:1; an entry outside these bounds was not made by a deflate encoder.
DEFLATE_OVERHEAD = 64
MAX_DEFLATE_RATIO = 1100
MAX_JSON_RATIO = 50


# ---------------------------------------------------------------------------- parts


def locate_parts(path: Path | str) -> list[Path]:
    """Return the files that make up the bundle at ``path``: itself, or its numbered parts."""
    path = Path(path)
    match = PART_SUFFIX.match(path.suffix)
    if match and path.is_file():
        base = path.with_name(path.stem)
    elif path.is_file():
        return [path]
    elif path.with_name(path.name + ".001").is_file():
        base = path
    else:
        raise BundleNotFound(str(path))
    numbers = sorted(
        int(m.group(1))
        for p in base.parent.iterdir()
        if p.name.startswith(base.name + ".")
        and (m := PART_SUFFIX.match(p.name[len(base.name) :]))
        and p.is_file()
    )
    for expected, number in enumerate(numbers, start=1):
        if number != expected:
            raise MissingPart(str(base), expected)
    if not numbers:
        raise MissingPart(str(base), 1)
    return [base.with_name(f"{base.name}.{n:03d}") for n in numbers]


def bundle_name(path: Path) -> Path:
    """Return the name a bundle is known by: the part suffix removed."""
    return path.with_name(path.stem) if PART_SUFFIX.match(path.suffix) else path


class MultiPartFile(io.RawIOBase):
    """Read several files as one seekable stream, as if they had been joined end to end."""

    def __init__(self, paths: list[Path]):
        super().__init__()
        self._files: list[BinaryIO] = []
        self._starts: list[int] = []
        total = 0
        try:
            for path in paths:
                stream = open(path, "rb")  # closed in close()
                self._files.append(stream)
                self._starts.append(total)
                total += stream.seek(0, io.SEEK_END)
        except BaseException:
            self.close()
            raise
        self._size = total
        self._pos = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the bundle")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            index = max(i for i, start in enumerate(self._starts) if start <= self._pos)
            stream = self._files[index]
            stream.seek(self._pos - self._starts[index])
            count = stream.readinto(view[done:])
            if not count:
                break
            done += count
            self._pos += count
        return done

    def close(self) -> None:
        for stream in getattr(self, "_files", []):
            stream.close()
        super().close()


# ---------------------------------------------------------------------------- the archive


def entry_problem(info: zipfile.ZipInfo) -> BundleError | None:
    """Return why an archive entry may not be in a bundle, or None when its name and kind are fine."""
    name = info.filename
    if "\x00" in name:
        return UnsafeEntryName(name, "contains a NUL character")
    if "\\" in name:
        return UnsafeEntryName(name, "contains a backslash")
    if name.startswith("/"):
        return UnsafeEntryName(name, "is an absolute path")
    if re.match(r"^[A-Za-z]:", name):
        return UnsafeEntryName(name, "starts with a drive letter")
    if any(part == ".." for part in name.split("/")):
        return UnsafeEntryName(name, "tries to climb out of its folder with ..")
    mode = info.external_attr >> 16
    if mode & 0o170000 not in (0, 0o100000):
        kind = "a symbolic link" if mode & 0o170000 == 0o120000 else "not a plain file"
        return UnsafeEntryName(name, f"is {kind}")
    if info.external_attr & 0x10 or name.endswith("/"):
        return UnsafeEntryName(name, "is a folder")
    if not ENTRY_NAME.match(name):
        return UnexpectedEntry(name)
    if info.flag_bits & 0x1:
        return UnsupportedEntry(name, "is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return UnsupportedEntry(name, f"uses compression method {info.compress_type}")
    return None


def size_problem(
    info: zipfile.ZipInfo, declared: int, sha256: str, name: str
) -> BundleError | None:
    """Compare an entry's headers with the manifest, before anything is decompressed."""
    if info.file_size > declared:
        return OversizedBlob(sha256, declared, info.file_size, name)
    if info.file_size < declared:
        return TruncatedBlob(sha256, declared, info.file_size, name)
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != declared:
        return DecompressionBomb(
            info.filename,
            f"stored (not compressed) with {info.compress_size} bytes of data for "
            f"{declared} declared",
        )
    if info.compress_type == zipfile.ZIP_DEFLATED:
        if info.compress_size > declared + declared // 1000 + DEFLATE_OVERHEAD:
            return DecompressionBomb(
                info.filename,
                f"{info.compress_size} bytes of compressed data cannot be meant for the "
                f"{declared} bytes declared",
            )
        if declared > max(info.compress_size, 1) * MAX_DEFLATE_RATIO:
            return DecompressionBomb(
                info.filename,
                f"{info.compress_size} bytes of compressed data cannot honestly expand "
                f"to {declared} bytes",
            )
    return None


class BundleArchive:
    """An opened bundle: its parts, its archive, and careful readers for its entries."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.parts = locate_parts(self.path)
        self.label = str(bundle_name(self.parts[0]) if len(self.parts) > 1 else self.parts[0])
        try:
            self._stream = MultiPartFile(self.parts)
        except OSError as error:
            raise BundleReadError(self.label, error.strerror or str(error)) from error
        try:
            self.zip = zipfile.ZipFile(self._stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
            self._stream.close()
            hint = " or a part is missing" if len(self.parts) > 1 else ""
            raise NotABundle(
                self.label, f"the file is cut short or damaged{hint} ({error}); copy it again"
            ) from error
        except OSError as error:
            self._stream.close()
            raise BundleReadError(self.label, error.strerror or str(error)) from error
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.entry_problems: list[BundleError] = []
        for info in self.zip.infolist():
            problem = entry_problem(info)
            if problem is not None:
                self.entry_problems.append(problem)
            elif info.filename in self.entries:
                self.entry_problems.append(DuplicateEntry(info.filename))
            else:
                self.entries[info.filename] = info

    @property
    def size(self) -> int:
        return self._stream.size

    def __enter__(self) -> BundleArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()
        self._stream.close()

    def read_small(self, name: str, cap: int) -> bytes | None:
        """Return a small entry's bytes (None when absent), never reading more than ``cap``."""
        info = self.entries.get(name)
        if info is None:
            return None
        if info.file_size > cap:
            raise DecompressionBomb(name, f"declares {info.file_size} bytes, more than {cap}")
        # These are read into memory before the signature can be checked: JSON of hashes
        # compresses a few times at most, so a high ratio can only be an attack.
        if info.file_size > max(info.compress_size, 1024) * MAX_JSON_RATIO:
            raise DecompressionBomb(
                name, f"{info.compress_size} compressed bytes claim to hold {info.file_size}"
            )
        return b"".join(self._chunks(info, cap, name))

    def _chunks(self, info: zipfile.ZipInfo, cap: int, label: str) -> Iterator[bytes]:
        # zipfile already stops at the header's size; the cap is ours, so a lying header can
        # never make this read more than the manifest allows.
        try:
            with self.zip.open(info) as stream:
                left = cap + 1
                while left > 0:
                    chunk = stream.read(min(CHUNK, left))
                    if not chunk:
                        return
                    left -= len(chunk)
                    if left <= 0:
                        raise DecompressionBomb(label, f"holds more than {cap} bytes")
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            sha = info.filename.removeprefix(BLOB_PREFIX)
            raise CorruptBlob(sha, label, f"the archive data is damaged ({error})") from error
        except OSError as error:
            raise BundleReadError(self.label, error.strerror or str(error)) from error

    def _stored_chunks(self, info: zipfile.ZipInfo, cap: int, label: str) -> Iterator[bytes]:
        """Yield a stored (uncompressed) entry's bytes straight from the archive.

        zipfile would add a CRC-32 pass and a few copies over every byte of the largest blobs
        (PDFs, video); the SHA-256 the caller checks is the real guard.
        """
        sha = info.filename.removeprefix(BLOB_PREFIX)
        try:
            self._stream.seek(info.header_offset)
            header = self._stream.read(LOCAL_HEADER.size)
            if len(header) < LOCAL_HEADER.size:
                raise CorruptBlob(sha, label, "the archive ends inside an entry's header")
            signature, name_length, extra_length = LOCAL_HEADER.unpack(header)
            if signature != LOCAL_SIGNATURE:
                raise CorruptBlob(sha, label, "the archive data is damaged (bad entry header)")
            stored_name = self._stream.read(name_length)
            if stored_name != info.filename.encode("ascii"):  # names are checked to be ASCII
                raise CorruptBlob(sha, label, "the archive data is damaged (entry names differ)")
            self._stream.seek(extra_length, io.SEEK_CUR)
            # As zipfile does, never past the header's size; and never past our cap.
            left = min(info.compress_size, cap + 1)
            while left > 0:
                chunk = self._stream.read(min(CHUNK, left))
                if not chunk:
                    return  # the caller reports the blob as truncated
                left -= len(chunk)
                if info.compress_size > cap and left <= 0:
                    raise DecompressionBomb(label, f"holds more than {cap} bytes")
                yield chunk
        except OSError as error:
            raise BundleReadError(self.label, error.strerror or str(error)) from error

    def iter_blob(self, sha256: str, size: int, name: str = "") -> Iterator[bytes]:
        """Yield a blob's bytes; raise at the end unless they are exactly the declared ones.

        The caller must discard what it received when this raises.
        """
        info = self.entries.get(BLOB_PREFIX + sha256)
        if info is None:
            raise MissingBlob(sha256, name)
        digest = hashlib.sha256()
        count = 0
        read = self._stored_chunks if info.compress_type == zipfile.ZIP_STORED else self._chunks
        try:
            for chunk in read(info, size, name or sha256):
                digest.update(chunk)
                count += len(chunk)
                yield chunk
        except DecompressionBomb:
            raise OversizedBlob(sha256, size, count, name) from None
        if count < size:
            raise TruncatedBlob(sha256, size, count, name)
        if digest.hexdigest() != sha256:
            raise CorruptBlob(sha256, name)

    def check_blob(self, sha256: str, size: int, name: str = "") -> None:
        for _ in self.iter_blob(sha256, size, name):
            pass

    def listing_problems(self, manifest: Manifest) -> list[BundleError]:
        """Compare the archive's entries with the manifest's files, from headers only."""
        problems: list[BundleError] = []
        for sha, entry in sorted(manifest.files.items()):
            info = self.entries.get(BLOB_PREFIX + sha)
            if info is None:
                problems.append(MissingBlob(sha, entry.name))
                continue
            problem = size_problem(info, entry.size, sha, entry.name)
            if problem is not None:
                problems.append(problem)
        for name in sorted(self.entries):
            if name.startswith(BLOB_PREFIX) and name[len(BLOB_PREFIX) :] not in manifest.files:
                problems.append(UnexpectedEntry(name))
        compressed = sum(info.compress_size for info in self.zip.infolist())
        if compressed > self.size:
            problems.append(
                DecompressionBomb(
                    "(archive)", "its entries claim more data than the file holds (overlapping)"
                )
            )
        return problems

    def authenticate(self, trust: TrustStore | None) -> tuple[bytes, Signature, TrustedKey | None]:
        """Return the manifest bytes once the signature over them is checked; parse nothing else.

        With no trust store, the signature is checked against the public key the bundle carries:
        that proves the manifest is intact, not who made it.
        """
        raw_signature = self.read_small(SIGNATURE_NAME, MAX_SIGNATURE_BYTES)
        if raw_signature is None:
            raise SignatureMissing()
        signature = Signature.from_json_bytes(raw_signature)
        manifest_bytes = self.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        if manifest_bytes is None:
            raise NotABundle(self.label, "it has no manifest.json")
        trusted = None
        if trust is not None:
            trusted = trust.get(signature.key_id)
            if trusted is None:
                raise UntrustedKey(signature.key_id)
            public_key = trusted.public_key
        elif signature.public_key is not None:
            public_key = signature.public_key
        else:
            raise SignatureMissing(
                f"signature.json does not carry key {signature.key_id}, and no trust file "
                "was given to check it with"
            )
        if not public_key.verify(signature.signature, manifest_bytes):
            raise BadSignature(signature.key_id)
        return manifest_bytes, signature, trusted


def check_signer(manifest: Manifest, signature: Signature, trusted: TrustedKey | None) -> None:
    """Refuse a manifest its signer may not sign: another country, or another key named inside."""
    if manifest.publisher_key_id != signature.key_id:
        raise BadSignature(
            signature.key_id,
            f"the manifest names key {manifest.publisher_key_id} as its publisher but is "
            f"signed by key {signature.key_id}",
        )
    if trusted is not None and not trusted.allows(manifest.country):
        raise KeyNotAllowed(trusted.key_id, trusted.name, manifest.country, list(trusted.countries))


def read_manifest(path: Path | str, trust: TrustStore | None = None) -> Manifest:
    """Return the authenticated manifest of a bundle, or of a bare ``manifest.json`` file.

    A bare manifest carries no signature: it is only accepted as the base of a new build, by
    its own publisher.
    """
    path = Path(path)
    if path.suffix == ".json" and path.is_file():
        try:
            return parse_manifest(path.read_bytes())
        except OSError as error:
            raise BundleReadError(str(path), error.strerror or str(error)) from error
    with BundleArchive(path) as archive:
        if archive.entry_problems:
            raise archive.entry_problems[0]
        manifest_bytes, signature, trusted = archive.authenticate(trust)
        manifest = parse_manifest(manifest_bytes)
        check_signer(manifest, signature, trusted)
        return manifest


# ---------------------------------------------------------------------------- verify


@dataclass
class Verdict:
    """The result of checking one bundle: every problem found, or none."""

    path: Path
    parts: list[Path] = field(default_factory=list)
    manifest: Manifest | None = None
    key_id: str | None = None
    key_name: str = ""
    trust_checked: bool = False
    problems: list[BundleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """Return a one-line verdict; the problems follow it, one a line, in ``lines()``."""
        if not self.ok:
            count = len(self.problems)
            return f"BAD  {self.path}: {count} problem{'s' if count > 1 else ''}, do not import"
        assert self.manifest is not None
        m = self.manifest
        parts = f", {len(self.parts)} parts" if len(self.parts) > 1 else ""
        size = human_size(m.total_size)
        signer = f"key {self.key_id}" + (f" ({self.key_name})" if self.key_name else "")
        trust = "" if self.trust_checked else "; key NOT checked against a trust file"
        return (
            f"GOOD {self.path}: {m.describe()}, {len(m.modules)} modules, "
            f"{len(m.files)} files, {size}{parts}, signed by {signer}{trust}"
        )

    def lines(self) -> list[str]:
        return [self.describe()] + [f"     - {problem}" for problem in self.problems]


def verify_bundle(path: Path | str, trust: TrustStore | None = None) -> Verdict:
    """Check a bundle completely without importing it, listing every problem found."""
    verdict = Verdict(path=Path(path))
    try:
        archive = BundleArchive(path)
    except BundleError as error:
        verdict.problems.append(error)
        return verdict
    with archive:
        verdict.parts = archive.parts
        verdict.path = Path(archive.label)
        verdict.problems.extend(archive.entry_problems)
        try:
            manifest_bytes, signature, trusted = archive.authenticate(trust)
            verdict.key_id = signature.key_id
            verdict.key_name = trusted.name if trusted else ""
            verdict.trust_checked = trust is not None
            manifest = parse_manifest(manifest_bytes)
            verdict.manifest = manifest
            check_signer(manifest, signature, trusted)
        except BundleError as error:
            verdict.problems.append(error)
            return verdict
        listing = archive.listing_problems(manifest)
        verdict.problems.extend(listing)
        # Entries already refused from their headers are not inflated: that is the point.
        unreadable = {getattr(p, "sha256", None) for p in listing} | {
            getattr(p, "name", "").removeprefix(BLOB_PREFIX) for p in listing
        }
        for sha, entry in sorted(manifest.files.items()):
            if sha in unreadable:
                continue
            try:
                archive.check_blob(sha, entry.size, entry.name)
            except BundleError as error:
                verdict.problems.append(error)
    return verdict


def find_bundles(path: Path | str) -> list[Path]:
    """Return the bundles in a folder (searched recursively), or ``path`` itself when it is one."""
    path = Path(path)
    if not path.is_dir():
        return [bundle_name(path) if PART_SUFFIX.match(path.suffix) else path]
    found = []
    for candidate in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in candidate.relative_to(path).parts):
            continue  # hidden folders, and files being written, are not bundles to check
        if not candidate.is_file():
            continue
        if candidate.suffix == BUNDLE_SUFFIX:
            found.append(candidate)
        elif candidate.name.endswith(BUNDLE_SUFFIX + ".001"):
            found.append(bundle_name(candidate))
    return found
