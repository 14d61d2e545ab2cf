"""Writing the signed container bundles and submission packages share.

A container is a ZIP holding ``manifest.json``, ``signature.json`` and ``blobs/<sha256>``
(docs/bundle-format.md). It is written under ``OUT.partial`` (and ``OUT.partial.002`` … when
split) and renamed once complete and flushed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sync.container.archive import BLOB_PREFIX, MANIFEST_NAME, SIGNATURE_NAME
from sync.container.keys import Signature
from sync.errors import BuildError
from sync.model import FileEntry
from sync.storage import fsync_dir

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as the work advances."""

DEFAULT_PART_SIZE = int(3.9 * 1024**3)  # under FAT32's 4 GiB limit, with room to spare
MIN_PART_SIZE = 4096
MAX_PARTS = 999
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a ZIP entry can hold
CHUNK = 1 << 20


class PartWriter(io.RawIOBase):
    """A seekable output that lays its bytes across numbered part files of at most ``part_size``."""

    def __init__(self, out: Path, part_size: int):
        super().__init__()
        if part_size < MIN_PART_SIZE:
            raise BuildError(f"the part size must be at least {MIN_PART_SIZE} bytes")
        self.out, self.part_size = out, part_size
        self._files: list[io.BufferedRandom] = []
        self._pos = 0
        self._size = 0

    def partial_path(self, number: int) -> Path:
        suffix = ".partial" if number == 1 else f".partial.{number:03d}"
        return self.out.with_name(self.out.name + suffix)

    def final_paths(self) -> list[Path]:
        if len(self._files) <= 1:
            return [self.out]
        return [self.out.with_name(f"{self.out.name}.{n:03d}") for n in self._numbers()]

    def _numbers(self) -> range:
        return range(1, len(self._files) + 1)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = base + offset
        return self._pos

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            number, offset = divmod(self._pos, self.part_size)
            while len(self._files) <= number:
                if len(self._files) >= MAX_PARTS:
                    raise BuildError(
                        f"the bundle would need more than {MAX_PARTS} parts; use larger parts"
                    )
                # Kept open until finish() or abort(): zipfile seeks back into earlier parts.
                part = open(self.partial_path(len(self._files) + 1), "w+b")
                self._files.append(part)
            stream = self._files[number]
            stream.seek(offset)
            count = min(len(view) - done, self.part_size - offset)
            stream.write(view[done : done + count])
            done += count
            self._pos += count
            self._size = max(self._size, self._pos)
        return done

    def finish(self) -> list[Path]:
        """Flush every part to disk and give the parts their final names; return them."""
        for stream in self._files:
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
        finals = self.final_paths()
        # A leftover bundle of the same name (one file, or more parts than now) would be read
        # together with the new one, so it goes first.
        stale = [self.out] + [
            p
            for p in self.out.parent.iterdir()
            if re.fullmatch(re.escape(self.out.name) + r"\.(?:partial\.)?\d{3}", p.name)
        ]
        partials = {self.partial_path(n) for n in self._numbers()}
        for path in stale:
            if path not in finals and path not in partials:
                path.unlink(missing_ok=True)
        # The first part last: until it appears, nobody looks for the others.
        for number in reversed(self._numbers()):
            os.replace(self.partial_path(number), finals[number - 1])
        fsync_dir(self.out.parent)
        return finals

    def abort(self) -> None:
        """Close and delete every part written so far."""
        for number, stream in enumerate(self._files, start=1):
            stream.close()
            self.partial_path(number).unlink(missing_ok=True)
        self._files = []


def entry_info(name: str, size: int, compress: bool) -> zipfile.ZipInfo:
    """Return the ZIP entry header for ``name``, the same on every machine."""
    # Every field that could carry the time, the machine or the user is fixed.
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.file_size = size
    return info


def compressible(media_type: str) -> bool:
    """Tell whether a blob of ``media_type`` is worth deflating."""
    # Images, sound, video and PDF are compressed already: deflating them again costs time on
    # small machines and gains nothing.
    return media_type.startswith("text/") or media_type.endswith("json")


def media_chunks(sha256: str, entry: FileEntry, path: Path) -> Iterator[bytes]:
    """Yield the bytes of the file at ``path``; raise ``BuildError`` unless they match ``entry``."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                if size > entry.size:
                    break
                yield chunk
    except OSError as error:
        raise BuildError(f"{path}: cannot be read ({error.strerror or error})") from error
    if size != entry.size or digest.hexdigest() != sha256:
        raise BuildError(f"{path} changed while the bundle was being built; build it again")


def write_container(
    out: Path,
    what: str,
    manifest_bytes: bytes,
    signature: Signature,
    files: dict[str, FileEntry],
    markdown: dict[str, bytes],
    media: dict[str, Path],
    *,
    part_size: int = DEFAULT_PART_SIZE,
    progress: Progress | None = None,
) -> None:
    """Write the signed container of ``files`` at ``out``; ``what`` names it in refusals."""
    if out.is_dir():
        raise BuildError(f"{out} is a folder; give the file name of the {what} to write")
    if not out.parent.is_dir():
        raise BuildError(f"{out.parent}: no such folder")
    writer = PartWriter(out, part_size)
    total = sum(entry.size for entry in files.values())
    done = 0
    try:
        with zipfile.ZipFile(writer, "w") as archive:
            for name, data in (
                (MANIFEST_NAME, manifest_bytes),
                (SIGNATURE_NAME, signature.to_json_bytes()),
            ):
                archive.writestr(entry_info(name, len(data), compress=True), data)
            for sha, entry in sorted(files.items()):
                info = entry_info(BLOB_PREFIX + sha, entry.size, compressible(entry.media_type))
                chunks = (
                    iter([markdown[sha]])
                    if sha in markdown
                    else media_chunks(sha, entry, media[sha])
                )
                with archive.open(info, "w") as stream:
                    for chunk in chunks:
                        stream.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
        writer.finish()
    except OSError as error:
        writer.abort()
        raise BuildError(f"cannot write {out}: {error.strerror or error}") from error
    except BaseException:
        writer.abort()
        raise
