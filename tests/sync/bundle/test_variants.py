"""Image variants made by the publisher travel in the bundle, hash-checked like any blob."""

from __future__ import annotations

import hashlib

import pytest

from sync.bundle import (
    CorruptBlob,
    InstalledState,
    ManifestError,
    build_bundle,
    read_manifest,
    stage_bundle,
)
from sync.content import read_content
from sync.model import Variant
from tests.sync.bundle.test_support import (
    CREATED,
    assert_store_intact,
    make_kit,
    manifest_data,
    rewrite,
    stored_files,
)

NOTHING = InstalledState()


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path)


def prepared_modules(kit):
    """Return the kit's modules, each image given two made-up variants written under ``made``."""
    made = kit.root / "made"
    made.mkdir()
    modules = read_content(kit.content).modules
    for module in modules:
        for blob in module.blobs.values():
            if not blob.media_type.startswith("image/"):
                continue
            blob.width, blob.height = 800, 600
            for width, media_type in ((320, "image/webp"), (800, "image/jpeg")):
                data = f"{blob.sha256}-{width}".encode()
                sha = hashlib.sha256(data).hexdigest()
                (made / sha).write_bytes(data)
                blob.variants.append(
                    Variant(sha, media_type, width, width * 3 // 4, len(data), made / sha)
                )
    return modules


def build(kit, modules, name="zz-v1.icb", **options):
    out = kit.root / name
    curriculum = read_content(kit.content).curricula["zz"]
    build_bundle(modules, curriculum, "zz", 1, out, kit.key, created=CREATED, **options)
    return out


def test_a_bundle_ships_the_variants_of_its_images_and_stages_them(kit):
    modules = prepared_modules(kit)
    bundle = build(kit, modules)
    assert bundle.read_bytes() == build(kit, prepared_modules_again(kit), "b.icb").read_bytes()
    data = manifest_data(bundle)
    expected = {v.sha256 for m in modules for b in m.blobs.values() for v in b.variants}
    assert expected and expected <= set(data["files"])
    some = next(b for m in data["modules"] for b in m["blobs"].values() if "variants" in b)
    assert (some["width"], some["height"]) == (800, 600)
    assert [v["media_type"] for v in some["variants"]] == ["image/webp", "image/jpeg"]

    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING)
    assert len(assert_store_intact(kit.store)) == len(data["files"])
    originals = {m.id: m for m in modules}
    for module in staged.modules:
        assert module.fingerprint() == originals[module.id].fingerprint()
        for sha, blob in module.blobs.items():
            before = originals[module.id].blobs[sha]
            assert (blob.width, blob.height) == (before.width, before.height)
            assert [(v.sha256, v.width, v.size) for v in blob.variants] == [
                (v.sha256, v.width, v.size) for v in before.variants
            ]
            for variant in blob.variants:
                assert variant.path == kit.store.path(variant.sha256) and variant.path.is_file()


def prepared_modules_again(kit):
    (kit.root / "made").rename(kit.root / "made-before")
    return prepared_modules(kit)


def test_a_delta_does_not_ship_variants_its_base_has(kit):
    base = build(kit, prepared_modules(kit))
    delta = kit.root / "zz-v2.icb"
    modules = prepared_modules_again(kit)
    for module in modules:
        module.version += 1
        module.title["fr"] += " (revu)"
    curriculum = read_content(kit.content).curricula["zz"]
    build_bundle(
        modules,
        curriculum,
        "zz",
        2,
        delta,
        kit.key,
        created=CREATED,
        base_manifest=read_manifest(base),
    )
    data = manifest_data(delta)
    assert data["modules"] and not any(
        v["sha256"] in data["files"]
        for m in data["modules"]
        for b in m["blobs"].values()
        for v in b.get("variants", [])
    )


def test_a_bundle_without_variants_still_stages(kit):
    bundle = kit.build()
    assert not any(
        "variants" in b for m in manifest_data(bundle)["modules"] for b in m["blobs"].values()
    )
    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING)
    blobs = [b for m in staged.modules for b in m.blobs.values()]
    assert blobs and all(b.width is None and b.variants == [] for b in blobs)


def _first_variant(data):
    for module in data["modules"]:
        for entry in module["blobs"].values():
            if entry.get("variants"):
                return entry
    raise AssertionError("no variants")


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e["variants"][0].update(sha256="ABC"),
        lambda e: e["variants"][0].update(media_type="image/svg+xml"),
        lambda e: e["variants"][0].update(width=0),
        lambda e: e["variants"][0].update(size="12"),
        lambda e: e["variants"][0].update(height=True),
        lambda e: e["variants"][0].pop("size"),
        lambda e: e.update(width=None),
        lambda e: e.update(variants={"a": 1}),
        lambda e: e.update(media_type="application/pdf"),
    ],
)
def test_a_malformed_variant_entry_is_refused(kit, damage):
    bundle = build(kit, prepared_modules(kit))
    broken = rewrite(
        bundle,
        kit.root / "broken.icb",
        edit_manifest=lambda data: damage(_first_variant(data)),
        sign_with=kit.key,
    )
    with pytest.raises(ManifestError):
        stage_bundle(broken, kit.trust, kit.store, NOTHING)
    assert stored_files(kit.store) == []


def test_a_variant_whose_bytes_do_not_match_is_refused(kit):
    bundle = build(kit, prepared_modules(kit))
    sha = _first_variant(manifest_data(bundle))["variants"][0]["sha256"]
    name = f"blobs/{sha}"
    size = manifest_data(bundle)["files"][sha]["size"]
    broken = rewrite(bundle, kit.root / "broken.icb", replace={name: b"x" * size})
    with pytest.raises(CorruptBlob):
        stage_bundle(broken, kit.trust, kit.store, NOTHING)
