"""Building bundles: reproducible bytes, selections, deltas, parts, and the output's final name."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from sync.bundle import (
    BuildError,
    InstalledState,
    MissingPart,
    NotABundle,
    build_bundle,
    canonical_json,
    locate_parts,
    read_manifest,
    stage_bundle,
    verify_bundle,
)
from sync.content import read_content
from tests.sync.bundle.test_support import (
    assert_store_intact,
    make_kit,
    manifest_data,
    read_entries,
)


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path)


def test_the_same_input_gives_the_same_manifest_and_the_same_bytes(kit):
    first = kit.build(name="a.icb")
    second = kit.build(name="b.icb")
    assert first.read_bytes() == second.read_bytes()


def test_the_default_time_comes_from_the_input_so_rebuilds_match(kit):
    tree = read_content(kit.content)
    one = build_bundle(tree, None, "zz", 1, kit.root / "a.icb", kit.key)
    two = build_bundle(read_content(kit.content), None, "zz", 1, kit.root / "b.icb", kit.key)
    assert one.to_json_bytes() == two.to_json_bytes()
    assert (kit.root / "a.icb").read_bytes() == (kit.root / "b.icb").read_bytes()
    image = kit.content / "zz/modules/zz-maths-fractions/media/disque.png"
    os.utime(image, (1_700_000_000, 1_700_000_000))
    three = build_bundle(read_content(kit.content), None, "zz", 1, kit.root / "c.icb", kit.key)
    assert three.created == "2023-11-14T22:13:20Z"


def test_entries_have_fixed_order_times_and_kinds(kit):
    bundle = kit.build()
    entries = read_entries(bundle)
    names = [info.filename for info, _ in entries]
    assert names[:2] == ["manifest.json", "signature.json"]
    assert names[2:] == sorted(names[2:])
    for info, _ in entries:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
    files = manifest_data(bundle)["files"]
    for info, _ in entries[2:]:
        media_type = files[info.filename.removeprefix("blobs/")]["media_type"]
        expected = zipfile.ZIP_DEFLATED if media_type.startswith("text/") else zipfile.ZIP_STORED
        assert info.compress_type == expected, media_type


def test_the_manifest_is_canonical_json_and_describes_every_module(kit):
    bundle = kit.build()
    with zipfile.ZipFile(bundle) as archive:
        raw = archive.read("manifest.json")
    data = manifest_data(bundle)
    assert raw == canonical_json(json.loads(raw))
    assert raw.startswith(b'{"base_version":null,"channel":"main","country":"zz",')
    assert data["format_version"] == 1 and data["base_version"] is None
    assert data["channel"] == "main" and data["created"] == "2025-01-31T08:00:00Z"
    fractions = next(m for m in data["modules"] if m["id"] == "zz-maths-fractions")
    lesson = fractions["lessons"][0]
    assert sorted(lesson["texts"]) == ["ar", "en", "fr"]
    assert lesson["texts"]["fr"]["media"] == {"media/disque.png": next(iter(fractions["blobs"]))}
    assert fractions["blobs"][next(iter(fractions["blobs"]))]["name"] == "disque.png"
    assert data["curriculum"]["code"] == "zz"


def test_only_the_levels_and_subjects_chosen_are_shipped(kit):
    bundle = kit.build(subjects=["mathematiques"])
    assert [m["id"] for m in manifest_data(bundle)["modules"]] == ["zz-maths-fractions"]
    tree = read_content(kit.content)
    cm1 = {m.id for m in tree.modules if "CM1" in m.levels}
    bundle = kit.build(name="cm1.icb", levels=["cm1"])  # a level's slug works as well as its code
    assert {m["id"] for m in manifest_data(bundle)["modules"]} == cm1


def test_an_unknown_level_or_subject_is_named_in_the_error(kit):
    with pytest.raises(BuildError, match="level 'CM7' is not in the curriculum of zz"):
        kit.build(levels=["CM7"])
    with pytest.raises(BuildError, match="subject 'cuisine'"):
        kit.build(subjects=["cuisine"])


def test_a_changed_module_whose_version_was_not_raised_is_refused(kit):
    v1 = kit.build(version=1)
    lesson = kit.content / "zz/modules/zz-sciences-eau/01-evaporation.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nEncore.\n", encoding="utf-8")
    with pytest.raises(BuildError, match="zz-sciences-eau changed .* raise `version`"):
        kit.build(version=2, base_manifest=read_manifest(v1, kit.trust))


def test_a_delta_must_follow_its_base(kit):
    v2 = kit.build(version=2)
    with pytest.raises(BuildError, match="higher than the base"):
        kit.build(version=2, name="again.icb", base_manifest=read_manifest(v2, kit.trust))
    with pytest.raises(BuildError, match="zz/pilot"):
        kit.build(version=3, channel="pilot", base_manifest=read_manifest(v2, kit.trust))


def test_content_with_problems_is_not_built(kit):
    (kit.content / "zz/modules/zz-sciences-eau/module.toml").write_text("id = 3\n")
    with pytest.raises(BuildError, match="problems"):
        kit.build()


def test_the_bundle_appears_under_its_name_only_when_complete(kit):
    seen = []

    def watch(done: int, total: int) -> None:
        seen.append(sorted(p.name for p in kit.root.iterdir() if "icb" in p.name))

    kit.build(progress=watch)
    assert seen and all(names == ["zz-v1.icb.partial"] for names in seen)
    assert sorted(p.name for p in kit.root.iterdir() if "icb" in p.name) == ["zz-v1.icb"]


def test_a_failed_build_leaves_no_partial_file(kit):
    def fail(done: int, total: int) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(BuildError, match="No space left"):
        kit.build(progress=fail)
    assert not [p for p in kit.root.iterdir() if "icb" in p.name]


def test_progress_counts_every_byte(kit):
    seen = []
    manifest_size = sum(f["size"] for f in manifest_data(kit.build(name="x.icb"))["files"].values())
    kit.build(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (manifest_size, manifest_size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_split_bundle_round_trips_through_its_parts(kit):
    whole = kit.build(name="whole.icb")
    split = kit.build(name="split.icb", part_size=4096)
    parts = locate_parts(split)
    assert [p.name for p in parts] == [f"split.icb.{n:03d}" for n in range(1, len(parts) + 1)]
    assert len(parts) > 1 and not split.exists()
    assert all(p.stat().st_size == 4096 for p in parts[:-1])
    assert b"".join(p.read_bytes() for p in parts) == whole.read_bytes()
    assert locate_parts(parts[1]) == parts  # any part names the bundle

    assert verify_bundle(parts[-1], kit.trust).ok
    staged = stage_bundle(split, kit.trust, kit.store, InstalledState())
    assert len(staged.modules) == 3
    assert len(assert_store_intact(kit.store)) == staged.copied


def test_a_missing_part_is_named(kit):
    split = kit.build(name="split.icb", part_size=4096)
    parts = locate_parts(split)
    parts[1].unlink()
    with pytest.raises(MissingPart, match="part 002"):
        locate_parts(split)
    parts[-1].unlink()
    parts[1].write_bytes(b"")  # the last part lost: the archive's directory is gone
    verdict = verify_bundle(split, kit.trust)
    assert not verdict.ok and isinstance(verdict.problems[0], NotABundle)


def test_rebuilding_with_fewer_parts_removes_the_old_ones(kit):
    kit.build(name="b.icb", part_size=4096)
    kit.build(name="b.icb")
    assert sorted(p.name for p in kit.root.iterdir() if p.name.startswith("b.icb")) == ["b.icb"]
    assert verify_bundle(kit.root / "b.icb", kit.trust).ok
