"""Verifying bundles without importing them: every problem listed, a clear verdict."""

from __future__ import annotations

import shutil

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
from tests.sync.bundle.test_support import blob_names, make_kit, read_entries, rewrite


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
