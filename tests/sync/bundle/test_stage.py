"""Staging a bundle for import: every refusal changes nothing; every success is complete."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from sync.bundle import (
    BadSignature,
    BaseNotInstalled,
    CorruptBlob,
    DecompressionBomb,
    DiskFull,
    InstalledState,
    InsufficientSpace,
    KeyNotAllowed,
    MissingBaseBlob,
    MissingBlob,
    NotABundle,
    OversizedBlob,
    PrivateKey,
    RevokedBase,
    Rollback,
    TruncatedBlob,
    TrustStore,
    UnexpectedEntry,
    UnsafeEntryName,
    UnsupportedFormat,
    UntrustedKey,
    read_manifest,
    stage_bundle,
    verify_bundle,
)
from sync.bundle.stage import withdraw
from sync.container.staging import RESERVE_BYTES
from sync.content import read_content
from tests.sync.bundle.test_support import (
    assert_store_intact,
    blob_names,
    make_kit,
    manifest_data,
    patch_sizes,
    read_entries,
    rewrite,
    stored_files,
    write_zero_bomb,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTHING = InstalledState()


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path)


@pytest.fixture
def good(kit):
    return kit.build(version=2)


def refuse(kit, path, error_class, installed=NOTHING, trust=None):
    """Stage ``path``, expect ``error_class``, and check that the store holds nothing at all."""
    with pytest.raises(error_class) as caught:
        stage_bundle(path, trust or kit.trust, kit.store, installed)
    assert stored_files(kit.store) == [], "a refused bundle left files in the store"
    assert str(caught.value)  # every refusal says something
    return caught.value


# ---------------------------------------------------------------------------- success


def test_staging_a_full_bundle_returns_the_modules_as_read_from_the_content(kit, good):
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)

    tree = read_content(kit.content)
    assert not staged.noop
    assert staged.curriculum == tree.curricula["zz"]
    assert [m.id for m in staged.modules] == sorted(m.id for m in tree.modules)
    for module, original in zip(
        staged.modules, sorted(tree.modules, key=lambda m: m.id), strict=True
    ):
        assert module.fingerprint() == original.fingerprint()
        assert module.lessons == original.lessons  # Markdown read back, byte for byte
        for sha, blob in module.blobs.items():
            assert blob.path == kit.store.path(sha) and blob.path.is_file()
            assert (blob.size, blob.media_type) == (
                original.blobs[sha].size,
                original.blobs[sha].media_type,
            )
    assert staged.copied == len(manifest_data(good)["files"]) and staged.reused == 0
    with zipfile.ZipFile(good) as archive:
        signed = archive.read("manifest.json")
    assert staged.manifest_sha256 == hashlib.sha256(signed).hexdigest()
    assert len(assert_store_intact(kit.store)) == staged.copied
    assert not (kit.store.root / ".staging").exists()


def test_without_a_system_sync_every_staged_blob_is_flushed_on_its_own(kit, good, monkeypatch):
    # Windows has no os.sync: one flush for the whole batch would flush nothing there.
    monkeypatch.delattr(os, "sync")
    flushed = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(fd), fsync(fd)))
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert staged.copied and len(flushed) >= staged.copied
    assert len(assert_store_intact(kit.store)) == staged.copied


def test_blobs_already_in_the_store_are_not_copied_again(kit, good):
    first = stage_bundle(good, kit.trust, kit.store, NOTHING)
    # The app's transaction failed, say: the same bundle is staged again.
    again = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert (again.copied, again.reused) == (0, first.copied)
    assert again.modules == first.modules


def test_the_same_version_again_is_a_no_op_that_writes_nothing(kit, good):
    staged = stage_bundle(good, kit.trust, kit.store, InstalledState({("zz", "main"): 2}))
    assert staged.noop and staged.modules == [] and staged.copied == 0
    assert stored_files(kit.store) == []


def test_a_full_bundle_removes_whatever_its_index_does_not_list(kit, good):
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert staged.removals(["zz-maths-fractions", "zz-old-module"]) == ["zz-old-module"]


# ---------------------------------------------------------------------------- delta chain


def edit_lesson(content: Path, module: str, lesson: str, new_version: int) -> None:
    folder = content / "zz" / "modules" / module
    path = folder / lesson
    path.write_text(path.read_text(encoding="utf-8") + "\nUne ligne ajoutée.\n", encoding="utf-8")
    toml = folder / "module.toml"
    text = toml.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("version ="))
    toml.write_text(text.replace(old, f"version = {new_version}", 1), encoding="utf-8")


def apply(state: dict, staged) -> dict:
    """Apply a staged bundle to a dictionary of modules, as the app does in its transaction."""
    state = {mid: m for mid, m in state.items() if mid not in staged.removals(state)}
    state.update({m.id: m for m in staged.modules})
    return state


def test_a_delta_chain_ships_only_what_changed_and_stages_to_the_new_state(kit):
    v1 = kit.build(version=1)
    edit_lesson(kit.content, "zz-maths-fractions", "02-comparer.md", 2)
    shutil.rmtree(kit.content / "zz" / "modules" / "zz-histoire-royaume")
    v2 = kit.build(version=2, base_manifest=read_manifest(v1, kit.trust))

    m2 = manifest_data(v2)
    new_markdown = (kit.content / "zz/modules/zz-maths-fractions/02-comparer.md").read_bytes()
    assert [m["id"] for m in m2["modules"]] == ["zz-maths-fractions"]
    assert m2["tombstones"] == ["zz-histoire-royaume"]
    assert m2["base_version"] == 1
    # Only the edited lesson travels; the image and the other lessons are in the base.
    assert list(m2["files"]) == [hashlib.sha256(new_markdown).hexdigest()]
    assert {info.filename for info, _ in read_entries(v2)} == {
        "manifest.json",
        "signature.json",
        *blob_names(v2),
    }

    state = apply({}, stage_bundle(v1, kit.trust, kit.store, NOTHING))
    staged = stage_bundle(v2, kit.trust, kit.store, InstalledState({("zz", "main"): 1}))
    assert staged.copied == 1
    state = apply(state, staged)

    # A third version, built from the second (a delta itself), still ships only its change.
    edit_lesson(kit.content, "zz-sciences-eau", "01-evaporation.md", 2)
    v3 = kit.build(version=3, base_manifest=read_manifest(v2, kit.trust))
    assert [m["id"] for m in manifest_data(v3)["modules"]] == ["zz-sciences-eau"]
    assert manifest_data(v3)["tombstones"] == []
    state = apply(
        state, stage_bundle(v3, kit.trust, kit.store, InstalledState({("zz", "main"): 2}))
    )

    expected = {m.id: m.fingerprint() for m in read_content(kit.content).modules}
    assert {mid: m.fingerprint() for mid, m in state.items()} == expected
    image = state["zz-maths-fractions"].blobs
    assert all(blob.path.is_file() for blob in image.values())


def test_a_delta_is_refused_unless_its_base_is_installed(kit):
    v1 = kit.build(version=1)
    edit_lesson(kit.content, "zz-sciences-eau", "01-evaporation.md", 2)
    v2 = kit.build(version=2, base_manifest=read_manifest(v1, kit.trust))
    error = refuse(kit, v2, BaseNotInstalled)
    assert "version 1" in str(error) and "nothing is installed" in str(error)
    refuse(kit, v2, BaseNotInstalled, InstalledState({("zz", "main"): 0}))


def test_a_delta_whose_base_blobs_are_gone_from_the_server_is_refused(kit):
    v1 = kit.build(version=1)
    edit_lesson(kit.content, "zz-maths-fractions", "02-comparer.md", 2)
    v2 = kit.build(version=2, base_manifest=read_manifest(v1, kit.trust))
    # The server says version 1 is installed, but its store is empty (restored from a backup).
    refuse(kit, v2, MissingBaseBlob, InstalledState({("zz", "main"): 1}))


# ---------------------------------------------------------------------------- refusals


def test_a_tampered_manifest_is_refused_before_it_is_parsed(kit, good, tmp_path):
    manifest = bytearray(manifest_data_bytes(good))
    manifest[len(manifest) // 2] ^= 0x01
    bad = rewrite(good, tmp_path / "bad.icb", replace={"manifest.json": bytes(manifest)})
    error = refuse(kit, bad, BadSignature)
    assert kit.key.key_id in str(error)


def manifest_data_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("manifest.json")


def test_a_bundle_signed_by_an_unknown_key_is_refused(kit, good, tmp_path):
    stranger = PrivateKey.generate()
    bad = rewrite(
        good,
        tmp_path / "bad.icb",
        edit_manifest=lambda m: m.update(publisher_key_id=stranger.key_id),
        sign_with=stranger,
    )
    error = refuse(kit, bad, UntrustedKey)
    assert stranger.key_id in str(error)


def test_a_key_trusted_for_another_country_is_refused(kit, good):
    trust = TrustStore()
    trust.add(kit.key.public, ["sn", "ci"], "Senegal team")
    error = refuse(kit, good, KeyNotAllowed, trust=trust)
    assert "sn, ci" in str(error) and "zz" in str(error)


def test_an_older_version_is_refused_as_a_rollback(kit, good):
    error = refuse(kit, good, Rollback, InstalledState({("zz", "main"): 3}))
    assert "version 2" in str(error) and "version 3" in str(error)


def test_a_newer_format_asks_for_a_software_update(kit, good, tmp_path):
    bad = rewrite(
        good,
        tmp_path / "bad.icb",
        edit_manifest=lambda m: m.update(format_version=2),
        sign_with=kit.key,
    )
    error = refuse(kit, bad, UnsupportedFormat)
    assert "update" in str(error)


def test_a_missing_blob_is_refused(kit, good, tmp_path):
    victim = blob_names(good, "image/")[0]
    bad = rewrite(good, tmp_path / "bad.icb", drop=lambda name: name == victim)
    error = refuse(kit, bad, MissingBlob)
    assert "disque.png" in str(error)


@pytest.mark.parametrize("name", ["notes.txt", "blobs/" + "ab" * 32])
def test_an_extra_entry_is_refused(kit, good, tmp_path, name):
    bad = rewrite(good, tmp_path / "bad.icb", add=[(name, b"surprise")])
    error = refuse(kit, bad, UnexpectedEntry)
    assert name in str(error)


def test_a_corrupt_blob_of_the_right_size_is_refused_though_its_crc_is_right(kit, good, tmp_path):
    victim = blob_names(good, "image/")[0]
    data = bytearray(dict((i.filename, d) for i, d in read_entries(good))[victim])
    data[-10] ^= 0xFF
    # Rewritten by zipfile, so the archive's CRC matches the damaged bytes: SHA-256 must catch it.
    bad = rewrite(good, tmp_path / "bad.icb", replace={victim: bytes(data)})
    error = refuse(kit, bad, CorruptBlob)
    assert "disque.png" in str(error)


def test_a_corrupt_blob_is_refused_even_when_the_server_holds_it_already(kit, good, tmp_path):
    stage_bundle(kit.build(version=1), kit.trust, kit.store, NOTHING)
    held = stored_files(kit.store)
    victim = blob_names(good, "image/")[0]
    data = bytearray(dict((i.filename, d) for i, d in read_entries(good))[victim])
    data[-10] ^= 0xFF
    bad = rewrite(good, tmp_path / "bad.icb", replace={victim: bytes(data)})

    # One rule for import and verify: a bundle with a damaged file is bad, whatever is held.
    with pytest.raises(CorruptBlob) as caught:
        stage_bundle(bad, kit.trust, kit.store, InstalledState({("zz", "main"): 1}))
    assert "disque.png" in str(caught.value)
    assert stored_files(kit.store) == held
    assert [type(p) for p in verify_bundle(bad, kit.trust).problems] == [CorruptBlob]


def test_a_corrupt_blob_met_late_leaves_nothing_behind(kit, good, tmp_path):
    # The last blob in the archive is the damaged one: the others were already staged.
    victim = blob_names(good)[-1]
    entries = dict((i.filename, d) for i, d in read_entries(good))
    data = bytearray(entries[victim])
    data[0] ^= 0x01
    bad = rewrite(good, tmp_path / "bad.icb", replace={victim: bytes(data)})
    refuse(kit, bad, CorruptBlob)
    assert not (kit.store.root / ".staging").exists()


def damage_in_place(bundle: Path, entry: str, at: int, tmp_path: Path) -> Path:
    """Copy ``bundle`` with one byte flipped ``at`` bytes past ``entry``'s local header."""
    with zipfile.ZipFile(bundle) as archive:
        info = archive.getinfo(entry)
        assert info.compress_type == zipfile.ZIP_STORED  # read straight from the archive
        offset = info.header_offset
    data = bytearray(bundle.read_bytes())
    data[offset + at] ^= 0xFF
    bad = tmp_path / "damaged.icb"
    bad.write_bytes(bytes(data))
    return bad


@pytest.mark.parametrize(
    "at, reason",
    [
        (1, "bad entry header"),  # the header's signature
        (30 + 8, "entry names differ"),  # a letter of the entry's name
        (30 + len("blobs/") + 64 + 500, "does not match"),  # the image itself: CRC and hash wrong
    ],
)
def test_a_stored_blob_damaged_in_the_archive_is_refused(kit, good, tmp_path, at, reason):
    victim = blob_names(good, "image/")[0]
    bad = damage_in_place(good, victim, at, tmp_path)
    error = refuse(kit, bad, CorruptBlob)
    assert reason in str(error)


def test_a_truncated_blob_is_refused(kit, good, tmp_path):
    victim = blob_names(good, "image/")[0]
    data = dict((i.filename, d) for i, d in read_entries(good))[victim]
    bad = rewrite(good, tmp_path / "bad.icb", replace={victim: data[:-100]})
    error = refuse(kit, bad, TruncatedBlob)
    assert "cut short" in str(error)


def test_a_blob_bigger_than_declared_is_refused(kit, good, tmp_path):
    victim = blob_names(good, "text/")[0]
    data = dict((i.filename, d) for i, d in read_entries(good))[victim]
    bad = rewrite(good, tmp_path / "bad.icb", replace={victim: data + b"\nmalware"})
    refuse(kit, bad, OversizedBlob)


def test_a_truncated_archive_is_refused(kit, good, tmp_path):
    bad = tmp_path / "cut.icb"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    error = refuse(kit, bad, NotABundle)
    assert "cut short" in str(error)


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    "entry", ["../x", "/etc/x", "C:\\x", "c:/x", "blobs/../../x", "blobs\\" + "ab" * 32, "blobs/"]
)
def test_names_that_try_to_escape_are_refused(kit, good, tmp_path, entry):
    bad = rewrite(good, tmp_path / "bad.icb", add=[(entry, b"x")])
    error = refuse(kit, bad, UnsafeEntryName)
    assert repr(entry) in str(error) and "crafted or damaged" in str(error)


@pytest.mark.parametrize("where", ["link", "blob"])
def test_a_symlink_entry_is_refused(kit, good, tmp_path, where):
    victim = blob_names(good, "image/")[0] if where == "blob" else "link"
    bad = rewrite(
        good,
        tmp_path / "bad.icb",
        drop=lambda name: name == victim,
        add=[(symlink_entry(victim), b"/etc/passwd")],
    )
    error = refuse(kit, bad, UnsafeEntryName)
    assert "symbolic link" in str(error)


def test_a_decompression_bomb_is_refused_from_its_headers_without_inflating_it(kit, good, tmp_path):
    victim = blob_names(good, "text/")[0]
    bad = write_zero_bomb(good, tmp_path / "bomb.icb", victim, megabytes=50)
    assert bad.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        refuse(kit, bad, OversizedBlob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_a_bomb_whose_headers_lie_about_its_size_is_refused(kit, good, tmp_path):
    victim = blob_names(good, "text/")[0]
    declared = manifest_data(good)["files"][victim.removeprefix("blobs/")]["size"]
    bad = write_zero_bomb(good, tmp_path / "bomb.icb", victim, megabytes=50)
    patch_sizes(bad, victim, declared, bytes(declared))
    tracemalloc.start()
    try:
        error = refuse(kit, bad, DecompressionBomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
    assert victim in str(error)


def test_too_little_free_disk_is_refused_before_anything_is_written(kit, good, monkeypatch):
    real = shutil.disk_usage

    def nearly_full(path):
        usage = real(path)
        return usage._replace(free=10_000_000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    error = refuse(kit, good, InsufficientSpace)
    assert "10.0 MB" in str(error)


# ---------------------------------------------------------------------------- interruptions


def test_staging_again_after_an_interruption_copies_only_what_is_missing(kit, good):
    calls = []

    def interrupt_after_three(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage_bundle(good, kit.trust, kit.store, NOTHING, progress=interrupt_after_three)
    assert assert_store_intact(kit.store) == []  # nothing under a real name yet

    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    total = len(manifest_data(good)["files"])
    assert (staged.copied, staged.reused) == (total - 3, 3)
    assert len(assert_store_intact(kit.store)) == total
    assert not (kit.store.root / ".staging").exists()


def test_a_damaged_staged_file_is_copied_again(kit, good):
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage_bundle(good, kit.trust, kit.store, NOTHING, progress=interrupt)
    staged_file = next(p for p in stored_files(kit.store) if not p.name.startswith("."))
    staged_file.write_bytes(b"rotten")
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert staged.reused == 0
    assert_store_intact(kit.store)


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    import sync.container.staging as staging
    from sync.bundle import InstalledState, TrustStore, load_public_key, stage_bundle
    from sync.storage import BlobStore

    # Every staged blob flushed and named at once: the test bundle is smaller than one batch.
    staging.FLUSH_BYTES = 1

    bundle, public, store, mode, after = sys.argv[1:]
    trust = TrustStore()
    trust.add(load_public_key(public), ["zz"])
    count = 0

    def die_after(*args):
        global count
        count += 1
        if count == int(after):
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "publish":
        # Kill while staged blobs are being renamed into the store itself.
        real_replace = os.replace
        def replace(src, dst):
            real_replace(src, dst)
            if ".staging" not in str(dst):
                die_after()
        os.replace = replace
        progress = None
    else:
        progress = die_after
    stage_bundle(bundle, trust, BlobStore(store), InstalledState(), progress=progress)
    """
)


@pytest.mark.parametrize("mode", ["copy", "publish"])
def test_a_staging_killed_halfway_resumes_and_leaves_only_complete_blobs(kit, good, mode):
    public = kit.root / "zz.pub"
    from cryptography.hazmat.primitives import serialization

    public.write_bytes(
        kit.key.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    script = kit.root / "crash.py"
    script.write_text(CRASHER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, str(script), str(good), str(public), str(kit.store.root), mode, "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -9, run.stderr
    published = assert_store_intact(kit.store)  # whatever has a real name is whole
    assert len(published) == (4 if mode == "publish" else 0)

    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    total = len(manifest_data(good)["files"])
    assert staged.copied == (0 if mode == "publish" else total - 4)
    assert staged.copied + staged.reused == total
    assert len(assert_store_intact(kit.store)) == total
    assert stored_files(kit.store) == assert_store_intact(kit.store)  # no staging left


# ---------------------------------------------------------------------------- revoked keys


def test_content_from_a_revoked_key_blocks_no_full_bundle_and_takes_no_update(kit):
    full = kit.build(version=3)
    # The thief's version 999999 is ignored for rollback once its key is revoked: the real
    # publisher's next full bundle stages; an update cannot apply to the thief's content.
    after_revocation = InstalledState(
        versions={("zz", "main"): 2}, revoked={("zz", "main"): "ab" * 8}
    )
    staged = stage_bundle(full, kit.trust, kit.store, after_revocation)
    assert not staged.noop and staged.replaces_revoked and staged.modules
    delta = kit.build(version=4, base_manifest=read_manifest(full))
    with pytest.raises(RevokedBase, match="full bundle"):
        stage_bundle(delta, kit.trust, kit.store, after_revocation)
    # The very version installed before the theft is applied again, not skipped as a no-op.
    again = InstalledState(versions={("zz", "main"): 3}, revoked={("zz", "main"): "ab" * 8})
    assert not stage_bundle(full, kit.trust, kit.store, again).noop


# ---------------------------------------------------------------------------- a full disk


def test_a_disk_filling_up_while_copying_says_how_much_space_is_needed(kit, good, monkeypatch):
    real_fdopen = os.fdopen
    writes = []

    class FillingDisk:
        """A file that the disk can hold three writes of, counted over every file."""

        def __init__(self, stream):
            self.stream = stream

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.stream.close()

        def write(self, data):
            writes.append(len(data))
            if len(writes) > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.stream.write(data)

    def fdopen(fd, mode="r", *args, **kwargs):
        stream = real_fdopen(fd, mode, *args, **kwargs)
        return FillingDisk(stream) if "w" in mode else stream

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(DiskFull) as caught:
        stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert isinstance(caught.value, InsufficientSpace)  # the same explanation on the page
    assert "needs" in str(caught.value) and "MB" in str(caught.value)
    assert caught.value.needed > RESERVE_BYTES
    assert assert_store_intact(kit.store) == []
    monkeypatch.undo()
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert staged.reused > 0  # what was copied before the disk filled up is kept


def test_a_disk_full_while_publishing_leaves_nothing_under_a_real_name(kit, good, monkeypatch):
    real_mkdir = Path.mkdir
    made = []

    def mkdir(self, *args, **kwargs):
        if self.parent.parent == kit.store.root and not self.exists():
            made.append(self)
            if len(made) > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(DiskFull):
        stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert assert_store_intact(kit.store) == []
    monkeypatch.undo()
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert staged.copied == 0  # every blob was put back in staging and reused


def test_an_import_whose_database_failed_withdraws_the_blobs_it_published(kit, good):
    staged = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert len(assert_store_intact(kit.store)) == len(staged.published) > 1
    kept = staged.published[0]
    assert withdraw(staged, kit.store, keep={kept}) == len(staged.published) - 1
    assert [p.name for p in assert_store_intact(kit.store)] == [kept]
    again = stage_bundle(good, kit.trust, kit.store, NOTHING)
    assert again.copied == 0 and again.reused == len(staged.published)
