"""Helpers shared by the bundle tests: a publisher kit, and tools to craft broken bundles.

Broken bundles are made here, from good ones, the way an attacker or a bad USB stick would:
by rewriting the archive with entries dropped, added, replaced or renamed, optionally with a
re-signed manifest, or by patching the archive's headers in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sync.bundle import PrivateKey, TrustStore, build_bundle, canonical_json
from sync.content import read_content
from sync.storage import BlobStore

TEST_CONTENT = Path(__file__).resolve().parents[2] / "data" / "content"
CREATED = "2025-01-31T08:00:00Z"


@dataclass
class Kit:
    """A publisher's key, a school server's trust store and blob store, in one temporary folder."""

    root: Path
    key: PrivateKey
    trust: TrustStore
    store: BlobStore
    content: Path

    def build(self, version: int = 1, name: str | None = None, **options: object) -> Path:
        """Build a bundle of zz from the kit's content; return its path."""
        out = self.root / (name or f"zz-v{version}.icb")
        options.setdefault("created", CREATED)
        tree = read_content(self.content)
        build_bundle(tree, None, "zz", version, out, self.key, **options)  # type: ignore[arg-type]
        return out


def make_kit(tmp_path: Path) -> Kit:
    content = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, content)
    key = PrivateKey.generate()
    trust = TrustStore()
    trust.add(key.public, ["zz"], "Zedland team")
    return Kit(tmp_path, key, trust, BlobStore(tmp_path / "store"), content)


def stored_files(store: BlobStore) -> list[Path]:
    """Return every file under the store's root, staging included."""
    if not store.root.exists():
        return []
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def assert_store_intact(store: BlobStore) -> list[Path]:
    """Check that every blob under a real name is complete and correct; return them."""
    blobs = [p for p in stored_files(store) if ".staging" not in p.relative_to(store.root).parts]
    for path in blobs:
        assert len(path.name) == 64, f"{path} is not a blob name"
        assert path == store.path(path.name), f"{path} is not where the store puts it"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"{path} is corrupt"
    return blobs


def read_entries(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def manifest_data(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def rewrite(
    source: Path,
    target: Path,
    *,
    drop: Callable[[str], bool] = lambda name: False,
    replace: dict[str, bytes] | None = None,
    add: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None,
    edit_manifest: Callable[[dict], None] | None = None,
    sign_with: PrivateKey | None = None,
) -> Path:
    """Write ``target``: ``source`` with entries dropped, replaced or added, maybe re-signed."""
    replace = dict(replace or {})
    if edit_manifest is not None or sign_with is not None:
        data = manifest_data(source)
        if edit_manifest is not None:
            edit_manifest(data)
        manifest_bytes = canonical_json(data)
        if sign_with is not None:
            from sync.container.keys import sign

            replace["signature.json"] = sign(manifest_bytes, sign_with).to_json_bytes()
        replace["manifest.json"] = manifest_bytes
    with zipfile.ZipFile(target, "w") as out:
        for info, data in read_entries(source):
            if drop(info.filename):
                continue
            out.writestr(info, replace.get(info.filename, data))
        for info, data in add or []:
            out.writestr(info, data)
    return target


def blob_names(path: Path, media_type_prefix: str = "") -> list[str]:
    """Return the blob entries of a bundle, optionally only those of one kind of file."""
    files = manifest_data(path)["files"]
    return sorted(
        f"blobs/{sha}"
        for sha, entry in files.items()
        if entry["media_type"].startswith(media_type_prefix)
    )


def write_zero_bomb(source: Path, target: Path, entry: str, megabytes: int) -> Path:
    """Copy ``source`` with ``entry`` replaced by ``megabytes`` of deflated zeros, streamed."""
    with zipfile.ZipFile(target, "w") as out:
        for info, data in read_entries(source):
            if info.filename != entry:
                out.writestr(info, data)
                continue
            bomb = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
            bomb.compress_type = zipfile.ZIP_DEFLATED
            with out.open(bomb, "w") as stream:
                zeros = bytes(1 << 20)
                for _ in range(megabytes):
                    stream.write(zeros)
    return target


def add_overlapping_entries(source: Path, target: Path, copies: int = 4) -> Path:
    """Copy ``source`` with ``copies`` more directory entries reusing its largest entry's data.

    Each new entry has a name of its own, so only the overlap itself gives the forgery away.
    """
    data = source.read_bytes()
    end = data.rindex(b"PK\x05\x06")  # the end of central directory record
    count, directory_size, directory_offset = struct.unpack_from("<HII", data, end + 10)
    records, position = [], directory_offset
    while position < directory_offset + directory_size:
        compressed = struct.unpack_from("<I", data, position + 20)[0]
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        length = 46 + name_length + extra_length + comment_length
        records.append((compressed, data[position : position + length], name_length))
        position += length
    _, largest, name_length = max(records, key=lambda record: record[0])
    added = b""
    for number in range(copies):
        name = f"blobs/{number + 1:064x}".encode()
        assert len(name) == name_length
        added += largest[:46] + name + largest[46 + name_length :]
    end_record = bytearray(data[end:])
    struct.pack_into(
        "<HHI", end_record, 8, count + copies, count + copies, directory_size + len(added)
    )
    directory = data[directory_offset : directory_offset + directory_size]
    target.write_bytes(data[:directory_offset] + directory + added + bytes(end_record))
    return target


def patch_sizes(path: Path, entry: str, size: int, crc_of: bytes) -> None:
    """Make both headers of ``entry`` claim ``size`` bytes with the CRC of ``crc_of``: a lie."""
    data = bytearray(path.read_bytes())
    name = entry.encode()
    crc = zlib.crc32(crc_of)
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(entry).header_offset
    # Local header: CRC at 14, compressed size at 18, size at 22 (only the size is changed).
    struct.pack_into("<I", data, offset + 14, crc)
    struct.pack_into("<I", data, offset + 22, size)
    position = data.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == name:
            struct.pack_into("<I", data, position + 16, crc)
            struct.pack_into("<I", data, position + 24, size)
        position = data.find(b"PK\x01\x02", position + 4)
    path.write_bytes(bytes(data))


def test_a_kit_builds_a_bundle_that_lists_every_blob(tmp_path):
    kit = make_kit(tmp_path)
    bundle = kit.build()
    names = {info.filename for info, _ in read_entries(bundle)}
    assert names == {"manifest.json", "signature.json", *blob_names(bundle)}
