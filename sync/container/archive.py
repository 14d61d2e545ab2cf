"""The signed container bundles and submission packages travel in: opening and checking it.

A container is a ZIP (one file, or numbered parts under FAT32's size limit) holding
``manifest.json``, ``signature.json`` and ``blobs/<sha256>`` (docs/bundle-format.md). Nothing
in it is trusted before it is checked. In order: the archive's entries (``check_zip``, then
only those three kinds of names), the signature over the exact manifest bytes (before the
manifest is parsed), then, once the caller has parsed its manifest, each blob's declared size
against the archive's headers and compression ratio (so a decompression bomb is refused before
a byte is inflated), and finally each blob's bytes, read with a hard cap at the declared size
and hashed with SHA-256 (the archive's CRC-32 only guards against accidents).
"""

from __future__ import annotations

import errno
import hashlib
import io
import mmap
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from sync.container.keys import MAX_SIGNATURE_BYTES, PublicKey, Signature
from sync.container.zipcheck import BOMB, DUPLICATE, ENCRYPTED, check_zip
from sync.errors import (
    BadSignature,
    BundleError,
    BundleNotFound,
    BundleReadError,
    CorruptBlob,
    DecompressionBomb,
    DuplicateEntry,
    MissingBlob,
    MissingPart,
    NotABundle,
    OversizedBlob,
    SignatureMissing,
    StoreWriteError,
    TruncatedBlob,
    UnexpectedEntry,
    UnsafeEntryName,
    UnsupportedEntry,
)
from sync.model import FileEntry

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
BLOB_PREFIX = "blobs/"
ENTRY_NAME = re.compile(r"^(?:manifest\.json|signature\.json|blobs/[0-9a-f]{64})$")
PART_SUFFIX = re.compile(r"^\.(\d{3})$")
# Held in memory to check its signature; real manifests are far smaller.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
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
    """Return the files that make up the container at ``path``: itself, or its numbered parts."""
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


def container_name(path: Path) -> Path:
    """Return the name a container is known by: the part suffix removed."""
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
            raise OSError(errno.EINVAL, "seek before the start of the bundle")
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


def check_entries(
    zf: zipfile.ZipFile, archive_size: int
) -> tuple[dict[str, zipfile.ZipInfo], list[BundleError]]:
    """Return the entries a container may hold, by name, and why each of the others may not."""
    check = check_zip(zf, archive_size)
    problems: list[BundleError] = []
    for problem in check.problems:
        if problem.code == BOMB:
            problems.append(DecompressionBomb(problem.name, problem.reason))
        elif problem.code == DUPLICATE:
            problems.append(DuplicateEntry(problem.name))
        elif problem.code == ENCRYPTED:
            problems.append(UnsupportedEntry(problem.name, problem.reason))
        else:
            problems.append(UnsafeEntryName(problem.name, problem.reason))
    entries: dict[str, zipfile.ZipInfo] = {}
    for entry in check.entries:
        info = entry.info
        if entry.is_folder:
            problems.append(UnsafeEntryName(entry.name, "is a folder"))
        elif not ENTRY_NAME.match(entry.name):
            problems.append(UnexpectedEntry(entry.name))
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(
                UnsupportedEntry(entry.name, f"uses compression method {info.compress_type}")
            )
        else:
            entries[entry.name] = info
    return entries, problems


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


class SignedArchive:
    """An opened container: its parts, its archive, and careful readers for its entries."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.parts = locate_parts(self.path)
        self.label = str(container_name(self.parts[0]) if len(self.parts) > 1 else self.parts[0])
        try:
            self._stream = MultiPartFile(self.parts)
        except OSError as error:
            raise BundleReadError(self.label, error.strerror or str(error)) from error
        try:
            self.zip = zipfile.ZipFile(self._stream)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            ValueError,
            EOFError,
            NotImplementedError,  # zipfile's word for a ZIP64 record of an unknown version
        ) as error:
            self._stream.close()
            hint = " or a part is missing" if len(self.parts) > 1 else ""
            raise NotABundle(
                self.label, f"the file is cut short or damaged{hint} ({error}); copy it again"
            ) from error
        except OSError as error:
            self._stream.close()
            raise BundleReadError(self.label, error.strerror or str(error)) from error
        self.entries, self.entry_problems = check_entries(self.zip, self._stream.size)

    @property
    def size(self) -> int:
        return self._stream.size

    def __enter__(self) -> SignedArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()
        self._stream.close()

    def read_small(self, name: str, cap: int) -> bytes | None:
        """Return a small entry's bytes (None when absent), never reading more than ``cap``."""
        info = self._small_entry(name, cap)
        if info is None:
            return None
        return b"".join(self._chunks(info, cap, name))

    def _small_entry(self, name: str, cap: int) -> zipfile.ZipInfo | None:
        info = self.entries.get(name)
        if info is None:
            return None
        if info.file_size > cap:
            raise DecompressionBomb(name, f"declares {info.file_size} bytes, more than {cap}")
        # These are inflated before the signature can be checked: JSON of hashes compresses a
        # few times at most, so a high ratio can only be an attack.
        if info.file_size > max(info.compress_size, 1024) * MAX_JSON_RATIO:
            raise DecompressionBomb(
                name, f"{info.compress_size} compressed bytes claim to hold {info.file_size}"
            )
        return info

    def _spool(self, name: str, cap: int) -> BinaryIO | None:
        """Inflate an entry into a temporary file (None when absent), never past ``cap``."""
        info = self._small_entry(name, cap)
        if info is None:
            return None
        try:
            spooled = tempfile.TemporaryFile()
        except OSError as error:
            raise StoreWriteError(tempfile.gettempdir(), error.strerror or str(error)) from error
        try:
            for chunk in self._chunks(info, cap, name):
                try:
                    spooled.write(chunk)
                except OSError as error:
                    reason = error.strerror or str(error)
                    raise StoreWriteError(tempfile.gettempdir(), reason) from error
            spooled.flush()
        except BaseException:
            spooled.close()
            raise
        return spooled

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
        except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as error:
            # UnicodeDecodeError: a local header's name that is not the UTF-8 it claims to be.
            sha = info.filename.removeprefix(BLOB_PREFIX)
            raise CorruptBlob(sha, label, f"the archive data is damaged ({error})") from error
        except NotImplementedError as error:  # zipfile's word for a feature it lacks
            raise UnsupportedEntry(info.filename, f"uses a ZIP feature ({error})") from error
        except OSError as error:
            raise self._read_error(error, info, label) from error

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
            raise self._read_error(error, info, label) from error

    def _read_error(self, error: OSError, info: zipfile.ZipInfo, label: str) -> BundleError:
        """Tell a damaged archive (an entry's offset points outside it) from a failing read."""
        if error.errno == errno.EINVAL:
            sha = info.filename.removeprefix(BLOB_PREFIX)
            return CorruptBlob(
                sha, label, "the archive data is damaged (an offset is out of range)"
            )
        return BundleReadError(self.label, error.strerror or str(error))

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

    def listing_problems(self, files: Mapping[str, FileEntry]) -> list[BundleError]:
        """Compare the archive's blobs with the manifest's ``files``, from headers only."""
        problems: list[BundleError] = []
        for sha, entry in sorted(files.items()):
            info = self.entries.get(BLOB_PREFIX + sha)
            if info is None:
                problems.append(MissingBlob(sha, entry.name))
                continue
            problem = size_problem(info, entry.size, sha, entry.name)
            if problem is not None:
                problems.append(problem)
        for name in sorted(self.entries):
            if name.startswith(BLOB_PREFIX) and name[len(BLOB_PREFIX) :] not in files:
                problems.append(UnexpectedEntry(name))
        return problems

    def authenticate(
        self, key_for: Callable[[Signature], PublicKey], what: str = "bundle"
    ) -> tuple[bytes, Signature]:
        """Return the manifest bytes once the signature over them is checked; parse nothing else.

        ``key_for`` returns the key the signature must be made with, or raises to refuse its
        signer; ``what`` names the container in refusals.
        """
        raw_signature = self.read_small(SIGNATURE_NAME, MAX_SIGNATURE_BYTES)
        if raw_signature is None:
            raise SignatureMissing(f"the {what} has no signature.json")
        signature = Signature.from_json_bytes(raw_signature)
        # The signer is judged first: a key this server does not trust costs nothing more.
        key = key_for(signature)
        # Until the signature is checked, the manifest (up to MAX_MANIFEST_BYTES) is only on
        # disk, and the signature is checked over a read-only map of it: memory a crafted
        # bundle can make this process hold stays one chunk, whatever the manifest's size.
        spooled = self._spool(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        if spooled is None:
            raise NotABundle(self.label, "it has no manifest.json")
        with spooled:
            size = spooled.seek(0, io.SEEK_END)
            if size == 0:
                valid = key.verify(signature.signature, b"")
            else:
                with mmap.mmap(spooled.fileno(), 0, access=mmap.ACCESS_READ) as signed:
                    valid = key.verify(signature.signature, signed)
            if not valid:
                raise BadSignature(signature.key_id)
            spooled.seek(0)
            return spooled.read(), signature
