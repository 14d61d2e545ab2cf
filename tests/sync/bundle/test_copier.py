"""Staging while a second process copies the media: what the import sees, refusals, crashes."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sync.bundle import (
    BundleError,
    CorruptBlob,
    InstalledState,
    InsufficientSpace,
    Rollback,
    StoreWriteError,
    read_manifest,
    stage_bundle,
)
from sync.bundle.copier import BackgroundCopy, CopyStopped
from tests.sync.bundle.test_support import (
    assert_store_intact,
    make_kit,
    read_entries,
    rewrite,
    stored_files,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTHING = InstalledState()
SHEETS = ["fiche-1.pdf", "fiche-2.pdf", "fiche-3.pdf"]


@pytest.fixture
def kit(tmp_path):
    """A kit whose content links three worksheets (PDFs), which the second process copies."""
    kit = make_kit(tmp_path)
    module = kit.content / "zz" / "modules" / "zz-sciences-eau"
    (module / "media").mkdir(exist_ok=True)
    rng = random.Random(7)
    links = []
    for name in SHEETS:
        (module / "media" / name).write_bytes(b"%PDF-1.4\n" + rng.randbytes(300_000))
        links.append(f"- [{name}](media/{name})")
    lesson = module / "01-evaporation.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\n\n" + "\n".join(links) + "\n")
    return kit


@pytest.fixture
def bundle(kit):
    return kit.build(version=1)


def sheet_hashes(bundle: Path) -> dict[str, str]:
    """Return the worksheets' hashes by file name."""
    files = read_manifest(bundle).files
    return {entry.name: sha for sha, entry in files.items() if entry.name in SHEETS}


def published(kit) -> list[Path]:
    """Return the files under their real names in the store (the staging folder left out)."""
    return [p for p in stored_files(kit.store) if ".staging" not in p.parts]


def test_the_import_gets_the_checked_modules_while_the_media_are_copied(kit, bundle):
    seen = {}

    def while_copying(staged, copying):
        seen["arriving"] = staged.arriving
        seen["published"] = published(kit)
        seen["lesson"] = next(
            text.markdown
            for module in staged.modules
            for lesson in module.lessons
            for text in lesson.texts.values()
            if "fiche-1.pdf" in text.markdown
        )

    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=while_copying)

    files = read_manifest(bundle).files
    media = {sha for sha, entry in files.items() if not entry.media_type.startswith("text/")}
    assert seen["arriving"] == media >= set(sheet_hashes(bundle).values())
    assert seen["published"] == []  # nothing gets its real name before every blob is checked
    assert "[fiche-2.pdf](media/fiche-2.pdf)" in seen["lesson"]
    assert staged.copied == len(files) and staged.reused == 0
    assert {p.name for p in assert_store_intact(kit.store)} == set(files)
    for module in staged.modules:
        for blob in module.blobs.values():
            assert blob.path == kit.store.path(blob.sha256) and blob.path.is_file()


def staged_media(kit) -> set[str]:
    """Return the hash-named blobs in the staging folder (complete, checked files)."""
    return {p.name for p in (kit.store.root / ".staging").rglob("*") if len(p.name) == 64}


def test_the_import_is_told_when_the_media_are_all_copied(kit, bundle):
    seen = {}

    def while_copying(staged, copying):
        deadline = time.monotonic() + 60
        while copying() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["copying"] = copying()
        seen["staged"] = staged_media(kit)
        seen["arriving"] = staged.arriving

    stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=while_copying)
    assert seen["copying"] is False
    assert seen["arriving"] and seen["staged"] >= seen["arriving"]


def test_without_a_second_process_the_media_are_copied_before_the_callback(
    kit, bundle, monkeypatch
):
    import sync.bundle.stage as stage

    monkeypatch.setattr(stage, "can_copy_in_background", lambda: False)
    seen = {}

    def while_copying(staged, copying):
        seen["copying"], seen["staged"] = copying(), staged_media(kit)
        seen["arriving"] = staged.arriving

    stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=while_copying)
    assert seen["copying"] is False
    assert seen["arriving"] and seen["staged"] >= seen["arriving"]


def test_staging_while_copying_gives_the_same_modules_as_staging_alone(kit, bundle, tmp_path):
    alone = stage_bundle(bundle, kit.trust, kit.store, NOTHING)
    other = make_kit(tmp_path / "other")
    other.trust, other.content = kit.trust, kit.content
    meanwhile = stage_bundle(
        bundle, other.trust, other.store, NOTHING, while_copying=lambda *_: None
    )
    assert [m.fingerprint() for m in meanwhile.modules] == [m.fingerprint() for m in alone.modules]
    assert meanwhile.arriving and not alone.arriving


def test_a_corrupt_file_found_by_the_copying_process_is_refused_as_it_would_be_here(
    kit, bundle, tmp_path
):
    victim = "blobs/" + sheet_hashes(bundle)["fiche-2.pdf"]
    data = bytearray(dict((i.filename, d) for i, d in read_entries(bundle))[victim])
    data[-10] ^= 0xFF
    bad = rewrite(bundle, tmp_path / "bad.icb", replace={victim: bytes(data)})
    with pytest.raises(CorruptBlob) as caught:
        stage_bundle(bad, kit.trust, kit.store, NOTHING, while_copying=lambda *_: None)
    assert "fiche-2.pdf" in str(caught.value)
    assert stored_files(kit.store) == []


def test_a_failure_while_copying_stops_the_copy_publishes_nothing_and_a_rerun_completes(
    kit, bundle
):
    def fail(staged, copying):
        raise RuntimeError("the database is gone")

    with pytest.raises(RuntimeError, match="database is gone"):
        stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=fail)
    assert published(kit) == []

    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=lambda *_: None)
    assert staged.copied + staged.reused == len(read_manifest(bundle).files)
    assert_store_intact(kit.store)
    assert not (kit.store.root / ".staging").exists()


def test_a_copying_process_that_dies_is_reported_and_a_rerun_completes(kit, bundle, monkeypatch):
    import sync.bundle.stage as stage

    started = []

    def remember(*args, **kwargs):
        started.append(BackgroundCopy(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(stage, "BackgroundCopy", remember)

    def kill_the_copy(staged, copying):
        os.kill(started[0].pid, signal.SIGKILL)

    with pytest.raises(CopyStopped) as caught:
        stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=kill_the_copy)
    assert "start the import again" in str(caught.value)
    assert published(kit) == []

    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING, while_copying=lambda *_: None)
    assert staged.copied + staged.reused == len(read_manifest(bundle).files)
    assert_store_intact(kit.store)


@pytest.mark.parametrize(
    "error",
    [
        CorruptBlob("ab" * 32, "fiche.pdf", "the bytes do not match their SHA-256"),
        StoreWriteError("/srv/store", "No space left on device"),
        InsufficientSpace("/srv/store", 2_000_000, 1_000),
        Rollback("zz", "main", 2, 3),
        CopyStopped(-9),
    ],
)
def test_a_refusal_reaches_the_import_from_the_copying_process_unchanged(error):
    # The copying process sends its refusal back pickled; each class takes other arguments.
    received = pickle.loads(pickle.dumps(error))
    assert type(received) is type(error)
    assert str(received) == str(error)
    assert received.__dict__ == error.__dict__
    assert received.resumable == error.resumable


ORPHAN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sync.bundle import read_manifest
    from sync.bundle.copier import BackgroundCopy, CopyJob

    bundle, staging, *hashes = sys.argv[1:]
    files = read_manifest(bundle).files
    job = CopyJob(Path(bundle), {h: files[h] for h in hashes}, hashes, set(), Path(staging))
    copy = BackgroundCopy(job)
    print(copy.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # before the copy has even started
    """
)


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has finished; only its exit status is left


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_the_copying_process_stops_when_the_import_that_started_it_is_killed(kit, bundle, tmp_path):
    staging = tmp_path / "staging"
    hashes = sorted(sheet_hashes(bundle).values())
    run = subprocess.run(
        [sys.executable, "-c", ORPHAN, str(bundle), str(staging), *hashes],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == -9, run.stderr
    child = int(run.stdout.split()[0])
    deadline = time.monotonic() + 30
    while is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(child), "the copy went on for an import that no longer runs"
    # It noticed after its first file at the latest, and kept only whole, named files.
    named = [p.name for p in staging.iterdir() if not p.name.startswith(".tmp-")]
    assert len(named) <= 1 and set(named) <= set(hashes)


def test_an_unexpected_error_in_the_copying_process_is_a_bundle_error(kit, bundle, monkeypatch):
    import io

    import sync.bundle.copier as copier

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(copier, "stage_blobs", broken)
    out = io.BytesIO()
    job = copier.CopyJob(bundle=bundle, files={}, to_copy=[], staged=set(), staging=kit.store.root)
    copier.run_job(job, out)
    out.seek(0)
    kind, error = pickle.load(out)
    # The CLI and the admin page show a BundleError's message, never a traceback.
    assert kind == "error" and isinstance(error, BundleError)
    assert "a bug" in str(error) and "start the import again" in str(error)
