"""The manifest: canonical bytes, a lossless round trip, and strict parsing with clear errors."""

from __future__ import annotations

import hashlib
import json

import pytest

from sync.bundle import ManifestError, UnsupportedFormat, canonical_json, parse_manifest
from sync.bundle.builder import plan_bundle
from sync.content import read_content
from tests.sync.bundle.test_support import TEST_CONTENT


@pytest.fixture(scope="module")
def manifest():
    tree = read_content(TEST_CONTENT)
    planned, _, _ = plan_bundle(
        tree.modules,
        tree.curricula["zz"],
        "zz",
        1,
        "0123456789abcdef",
        created="2025-01-31T08:00:00Z",
    )
    return planned


def test_parsing_the_written_bytes_gives_the_same_manifest(manifest):
    raw = manifest.to_json_bytes()
    assert parse_manifest(raw) == manifest
    assert parse_manifest(raw).to_json_bytes() == raw


def test_modules_rebuilt_from_the_manifest_have_the_same_fingerprint(manifest):
    tree = read_content(TEST_CONTENT)
    by_hash = {
        hashlib.sha256(text.markdown.encode()).hexdigest(): text.markdown
        for m in tree.modules
        for lesson in m.lessons
        for text in lesson.texts.values()
    }
    originals = {m.id: m for m in tree.modules}
    for entry in manifest.modules:
        blobs = originals[entry.id].blobs
        module = entry.to_module(by_hash.__getitem__, lambda sha, blobs=blobs: blobs[sha].path)
        assert module.fingerprint() == entry.fingerprint == originals[entry.id].fingerprint()


def edited(manifest, change) -> bytes:
    data = json.loads(manifest.to_json_bytes())
    change(data)
    return canonical_json(data)


def test_a_newer_format_version_asks_for_an_update(manifest):
    with pytest.raises(UnsupportedFormat, match="update Imaginecole"):
        parse_manifest(edited(manifest, lambda d: d.update(format_version=2)))
    with pytest.raises(UnsupportedFormat, match="no longer reads"):
        parse_manifest(edited(manifest, lambda d: d.update(format_version=0)))


def test_unknown_fields_are_ignored_for_forward_compatibility(manifest):
    raw = edited(manifest, lambda d: d.update(x_note="added by a later version"))
    assert parse_manifest(raw) == manifest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("country"), "country is missing"),
        (lambda d: d.update(version="2"), "version must be a whole number"),
        (lambda d: d.update(country="ZZ"), "country is not a two-letter"),
        (
            lambda d: d["modules"][0]["lessons"][0].update(slug="../x"),
            r"modules\[0\].lessons\[0\].slug",
        ),
        (lambda d: d.update(created="yesterday"), "created is not a UTC time"),
        (lambda d: d.update(base_version=1), "base_version 1 must be lower"),
        (lambda d: d["modules"][0].update(fingerprint="0" * 64), "does not match its index"),
        (lambda d: d["files"].popitem(), "does not ship it"),
        (lambda d: d.update(tombstones=["zz-gone"]), "cannot remove modules"),
        (lambda d: d["curriculum"].update(code="sn"), "curriculum is that of 'sn'"),
        (
            lambda d: next(iter(d["files"].values())).update(name="../../etc/passwd"),
            "not a plain file name",
        ),
    ],
)
def test_a_malformed_manifest_is_refused_naming_the_field(manifest, change, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(edited(manifest, change))


def test_repeated_keys_and_non_json_are_refused(manifest):
    raw = manifest.to_json_bytes()
    with pytest.raises(ManifestError, match="appears twice"):
        parse_manifest(b'{"country":"zz",' + raw[1:])
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest(raw[:-1])
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(b"\xff" + raw)


# ---------------------------------------------------------------------------- changelog


def with_changelog(manifest, *entries: dict):
    return edited(manifest, lambda d: d.update(changelog=list(entries)))


def entry(version: int = 1, **fields) -> dict:
    data = {
        "version": version,
        "note": "Nouvelle leçon.",
        "modules": [{"id": "zz-sciences-eau", "change": "changed", "title": {"fr": "L'eau"}}],
        "curriculum_changed": False,
        "decisions": 2,
    }
    return data | fields


def test_a_changelog_round_trips_and_a_manifest_without_one_keeps_its_bytes(manifest):
    assert b"changelog" not in manifest.to_json_bytes()
    parsed = parse_manifest(with_changelog(manifest, entry()))
    [read] = parsed.changelog
    assert (read.version, read.note, read.decisions, read.empty) == (1, "Nouvelle leçon.", 2, False)
    assert [(m.id, m.change, m.title) for m in read.of("changed")] == [
        ("zz-sciences-eau", "changed", {"fr": "L'eau"})
    ]
    assert parsed.to_json_bytes() == with_changelog(manifest, entry())
    older_reader_view = json.loads(with_changelog(manifest, entry()))
    older_reader_view.pop("changelog")
    assert parse_manifest(canonical_json(older_reader_view)) == manifest


@pytest.mark.parametrize(
    ("entries", "version", "message"),
    [
        ([entry(2)], 1, "newer than the bundle's version 1"),
        ([entry(1), entry(1)], 1, "listed once each, oldest first"),
        ([entry(2), entry(1)], 2, "listed once each, oldest first"),
        ([entry(note="x" * 2001)], 1, "longer than 2000 characters"),
        ([entry(note="a\x00b")], 1, "control character"),
        ([entry(modules=[{"id": "zz-x", "change": "moved", "title": {}}])], 1, "not one of"),
        ([entry(curriculum_changed="yes")], 1, "must be true or false"),
        ([entry(version=n) for n in range(1, 52)], 51, "more than 50 entries"),
    ],
)
def test_a_malformed_changelog_is_refused(manifest, entries, version, message):
    data = json.loads(manifest.to_json_bytes())
    data.update(changelog=entries, version=version)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(canonical_json(data))
