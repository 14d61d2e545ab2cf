"""Verifying bundles without importing them: every problem listed, a clear verdict."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import zipfile

import pytest

from sync.bundle import (
    BadSignature,
    CorruptBlob,
    MissingBlob,
    TrustStore,
    UnexpectedEntry,
    UnsafeEntryName,
    UntrustedKey,
    find_bundles,
    verify_bundle,
)
from sync.container.keys import Signature
from tests.sync.bundle.test_support import (
    blob_names,
    make_kit,
    read_entries,
    rewrite,
    write_zero_bomb,
)


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path)


def test_a_good_bundle_gets_a_good_verdict(kit):
    verdict = verify_bundle(kit.build(), kit.trust)
    assert verdict.ok and verdict.trust_checked
    assert verdict.describe().startswith("GOOD ")
    assert "zz/main version 1 (full)" in verdict.describe()
    assert "Zedland team" in verdict.describe()


def test_without_a_trust_file_the_verdict_says_the_key_was_not_checked(kit):
    verdict = verify_bundle(kit.build())
    assert verdict.ok and not verdict.trust_checked
    assert "NOT checked against a trust file" in verdict.describe()


def test_a_key_absent_from_the_trust_file_is_a_bad_verdict(kit):
    verdict = verify_bundle(kit.build(), TrustStore())
    assert not verdict.ok and isinstance(verdict.problems[0], UntrustedKey)


def test_every_problem_is_listed_not_only_the_first(kit, tmp_path):
    good = kit.build()
    entries = dict((info.filename, data) for info, data in read_entries(good))
    missing, corrupt = blob_names(good)[:2]
    bad = rewrite(
        good,
        tmp_path / "bad.icb",
        drop=lambda name: name == missing,
        replace={corrupt: bytes(reversed(entries[corrupt]))},
        add=[("../evil", b"x"), ("blobs/" + "cd" * 32, b"x")],
    )
    verdict = verify_bundle(bad, kit.trust)
    kinds = sorted(type(p).__name__ for p in verdict.problems)
    expected = [UnsafeEntryName, MissingBlob, CorruptBlob, UnexpectedEntry]
    assert kinds == sorted(kind.__name__ for kind in expected)
    lines = verdict.lines()
    assert lines[0].startswith("BAD ") and "4 problems" in lines[0]
    assert len(lines) == 5


def test_a_bad_signature_stops_before_the_manifest_is_read(kit, tmp_path):
    good = kit.build()
    entries = dict((info.filename, data) for info, data in read_entries(good))
    manifest = entries["manifest.json"].replace(b'"zz-maths-fractions"', b'"zz-maths-fractionz"')
    bad = rewrite(good, tmp_path / "bad.icb", replace={"manifest.json": manifest})
    verdict = verify_bundle(bad)  # even with the key the bundle carries, integrity is checked
    assert [type(p) for p in verdict.problems] == [BadSignature]
    assert verdict.manifest is None


def test_a_folder_with_a_good_and_a_bad_bundle(kit, tmp_path):
    stick = tmp_path / "stick"
    (stick / "zz").mkdir(parents=True)
    good = kit.build()
    shutil.copy(good, stick / "zz" / "good.icb")
    victim = blob_names(good)[0]
    rewrite(good, stick / "bad.icb", drop=lambda name: name == victim)
    kit.build(name="split.icb", part_size=4096)
    for part in tmp_path.glob("split.icb.*"):
        shutil.copy(part, stick / part.name)
    (stick / ".Trash-1000").mkdir()
    shutil.copy(good, stick / ".Trash-1000" / "old.icb")  # hidden folders are not looked at

    found = find_bundles(stick)
    assert [p.relative_to(stick).as_posix() for p in found] == [
        "bad.icb",
        "split.icb",
        "zz/good.icb",
    ]
    verdicts = {p.name: verify_bundle(p, kit.trust) for p in found}
    assert not verdicts["bad.icb"].ok
    assert verdicts["good.icb"].ok and verdicts["split.icb"].ok
    parts = len(list(stick.glob("split.icb.*")))
    assert parts > 1 and f"{parts} parts" in verdicts["split.icb"].describe()


def test_an_untrusted_signer_is_refused_before_the_manifest_is_inflated(kit, tmp_path):
    # 200 MB of zeros as manifest.json: refused as a bomb if it were read at all.
    bomb = write_zero_bomb(kit.build(), tmp_path / "bomb.icb", "manifest.json", 200)

    verdict = verify_bundle(bomb, TrustStore())

    assert [type(p) for p in verdict.problems] == [UntrustedKey]


# Run in a fresh interpreter, counting what Python allocates during this one check. (The
# process's resident size would also count the pages of the file read through a map, which
# the kernel may drop at any time: those are on disk, not held.)
PEAK_OF_VERIFY = """
import sys, tracemalloc
from sync.bundle import verify_bundle
from sync.container.keys import PublicKey, TrustStore
trust = TrustStore()
trust.add(PublicKey.from_base64(sys.argv[2]), ["zz"], "Zedland team")
tracemalloc.start()
verdict = verify_bundle(sys.argv[1], trust)
_current, peak = tracemalloc.get_traced_memory()
print(type(verdict.problems[0]).__name__)
print(peak)
"""


def test_a_large_forged_manifest_is_never_held_in_memory_unauthenticated(kit, tmp_path):
    # 40 MB of incompressible JSON, under the 64 MiB cap, with a signature that names the
    # trusted key but was not made with it: what anyone can put on a stick.
    padding = secrets.token_hex(20 * 1024 * 1024)
    manifest = b'{"format_version":1,"padding":"' + padding.encode() + b'"}'
    forged = Signature(kit.key.key_id, secrets.token_bytes(64)).to_json_bytes()
    path = tmp_path / "forged.icb"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature.json", forged)
    del padding, manifest

    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_VERIFY, str(path), kit.key.public.to_base64()],
        capture_output=True,
        check=True,
    )

    refusal, peak = done.stdout.decode().split()
    assert refusal == "BadSignature"
    assert int(peak) < 8 * 2**20  # the manifest's 40 MB were only ever on disk


def test_an_entry_using_a_zip_feature_zipfile_lacks_is_a_problem_not_a_crash(kit, tmp_path):
    good = kit.build()
    victim = blob_names(good, "text/markdown")[0]  # deflated: read through zipfile
    data = bytearray(good.read_bytes())
    # Set flag bit 5 ("compressed patched data", which zipfile cannot read) in the entry's
    # central directory record, whose name follows its 46-byte header.
    record = data.index(b"PK\x01\x02")
    while data[record + 46 : record + 46 + len(victim)] != victim.encode():
        record = data.index(b"PK\x01\x02", record + 4)
    data[record + 8] |= 0x20
    bad = tmp_path / "patched.icb"
    bad.write_bytes(bytes(data))

    verdict = verify_bundle(bad, kit.trust)

    assert [type(p).__name__ for p in verdict.problems] == ["UnsupportedEntry"]
    assert "uses a ZIP feature" in str(verdict.problems[0])
