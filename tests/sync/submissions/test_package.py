"""Submission packages: what a school server writes, and what the national server refuses."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.bundle import (
    BadSignature,
    BuildError,
    CorruptBlob,
    DecompressionBomb,
    ManifestError,
    MissingBlob,
    OversizedBlob,
    PrivateKey,
    SignatureMissing,
    TruncatedBlob,
    UnexpectedEntry,
    UnsafeEntryName,
    canonical_json,
)
from sync.cli import cli
from sync.storage import BlobStore
from sync.submissions import (
    CountryMismatch,
    EnrolledKeys,
    EnrolmentFileError,
    InvalidSubmission,
    InvalidText,
    UnknownSchool,
    UnsupportedPackageFormat,
    build_package,
    load_enrolled,
    merge,
    parse_enrolled,
    read_package,
    verify_package,
)
from tests.sync.bundle.test_support import (
    add_overlapping_entries,
    assert_store_intact,
    manifest_data,
    read_entries,
    rewrite,
    stored_files,
    write_zero_bomb,
)
from tests.sync.submissions.test_support import (
    LATER,
    PNG,
    edit_and_resign,
    forge_markdown,
    make_school,
    resign,
    revision,
    submission,
    uid,
)


@pytest.fixture
def kit(tmp_path):
    return make_school(tmp_path)


@pytest.fixture
def good(kit):
    return kit.package([kit.sample("a"), kit.sample("b")])


def refuse(kit, path: Path, error_class: type[Exception], store: BlobStore | None = None):
    """Read ``path``, expect ``error_class``, and check that the store gained nothing at all."""
    store = store or kit.store
    before = stored_files(store)
    with pytest.raises(error_class) as caught:
        read_package(path, kit.enrolled, store)
    assert stored_files(store) == before, "a refused package left files in the store"
    assert str(caught.value)
    return caught.value


def single(kit, name: str = "single.icsub") -> Path:
    """Return a package of one submission with one revision and no attached file."""
    return kit.package([submission("s", revision(uid("s")))], name)


# ---------------------------------------------------------------------------- success


def test_a_package_round_trips_every_field_and_puts_its_files_in_the_store(kit, good):
    received = kit.read(good)

    expected = sorted([kit.sample("a"), kit.sample("b")], key=lambda s: s.uid)
    assert received.submissions == [
        replace(s, revisions=sorted(s.revisions, key=lambda r: (r.created, r.uid)))
        for s in expected
    ]
    assert kit.store.has(kit.image_ref.sha256)
    assert kit.store.path(kit.image_ref.sha256).read_bytes() == PNG
    # Markdown is stored too; texts and picture shared by both submissions are stored once.
    assert len(assert_store_intact(kit.store)) == 2 + 1
    assert received.copied == 3 and received.reused == 0
    assert not (kit.store.root / ".staging").exists()
    with zipfile.ZipFile(good) as archive:
        signed = archive.read("manifest.json")
    assert received.manifest_sha256 == hashlib.sha256(signed).hexdigest()


def test_identity_comes_from_the_enrolment_not_from_the_package(kit, good):
    received = kit.read(good)
    assert (received.school_key_id, received.school_name, received.country) == (
        kit.key.key_id,
        "École de Ndiaye",
        "sn",
    )
    data = manifest_data(good)
    assert "École de Ndiaye" not in str(data)  # the package does not even carry the name


def test_the_manifest_has_the_documented_shape(kit, good):
    data = manifest_data(good)
    assert set(data) == {
        "format_version",
        "kind",
        "country",
        "school_key_id",
        "created",
        "files",
        "submissions",
    }
    assert (data["format_version"], data["kind"], data["country"]) == (1, "submissions", "sn")
    assert data["school_key_id"] == kit.key.key_id
    rev = data["submissions"][0]["revisions"][0]
    assert set(rev) == {
        "uid",
        "parent_uid",
        "created",
        "title",
        "summary",
        "language",
        "levels",
        "subject",
        "competencies",
        "licence",
        "markdown",
        "files",
    }
    assert rev["markdown"] in data["files"]  # the text travels as a blob, named by its hash
    names = [info.filename for info, _ in read_entries(good)]
    assert names[:2] == ["manifest.json", "signature.json"]
    assert names[2:] == sorted("blobs/" + sha for sha in data["files"])


def test_the_same_outbox_gives_the_same_bytes_whatever_the_order(kit):
    a, b = kit.sample("a"), kit.sample("b")
    first = kit.package([a, b], "first.icsub")
    second = kit.package([b, replace(a, revisions=list(reversed(a.revisions)))], "second.icsub")
    assert first.read_bytes() == second.read_bytes()
    assert manifest_data(first)["created"] == LATER  # the newest revision's time


def test_reading_the_same_package_again_copies_nothing(kit, good):
    first = kit.read(good)
    again = kit.read(good)
    assert (again.copied, again.reused) == (0, first.copied)
    assert again.submissions == first.submissions


def test_a_blob_left_staged_by_an_interrupted_read_is_checked_and_reused(kit, good):
    with zipfile.ZipFile(good) as archive:
        digest = hashlib.sha256(archive.read("manifest.json")).hexdigest()
    staging = kit.store.root / ".staging" / f"submissions-{kit.key.key_id}-{digest[:16]}"
    staging.mkdir(parents=True)
    (staging / kit.image_ref.sha256).write_bytes(PNG)
    received = kit.read(good)
    assert received.copied == 2 and received.reused == 1
    assert not staging.exists()


def test_verifying_checks_everything_and_writes_nothing(kit, good):
    received = verify_package(good, kit.enrolled)
    assert len(received.submissions) == 2
    assert stored_files(kit.store) == []
    with pytest.raises(UnknownSchool):
        verify_package(good, EnrolledKeys())


def test_a_package_read_twice_merges_once(kit, good):
    received = kit.read(good)
    first = merge({}, received)
    again = merge(first.state, kit.read(good))
    assert [d.kind for d in first.decisions] == ["new", "new"]
    assert [d.kind for d in again.decisions] == ["already_received", "already_received"]
    assert again.state == first.state


def test_a_withdrawal_with_no_revision_travels(kit):
    path = kit.package([submission("w", withdrawn=True)], "withdrawn.icsub")
    [sub] = kit.read(path).submissions
    assert sub.withdrawn and sub.revisions == []


# ---------------------------------------------------------------------------- building


def test_the_package_appears_under_its_name_only_when_complete(kit, tmp_path):
    changing = tmp_path / "changing.png"
    changing.write_bytes(PNG[:-1] + b"X")  # not the bytes the reference promises
    out = tmp_path / "broken.icsub"
    with pytest.raises(BuildError, match="changed while"):
        build_package([kit.sample()], {kit.image_ref.sha256: changing}, "sn", kit.key, out)
    assert not out.exists()
    assert not list(tmp_path.glob("broken.icsub*"))


def test_building_refuses_bad_input(kit, tmp_path):
    out = tmp_path / "x.icsub"
    sub = kit.sample()
    with pytest.raises(BuildError, match="not among the files given"):
        build_package([sub], {}, "sn", kit.key, out)
    with pytest.raises(BuildError, match="given twice"):
        kit.package([sub, sub])
    with pytest.raises(BuildError, match="two-letter"):
        build_package([sub], {}, "SEN", kit.key, out)
    bad_title = replace(sub, revisions=[replace(sub.revisions[0], title="a\x00b")])
    with pytest.raises(InvalidText, match="title: contains a NUL"):
        kit.package([bad_title])
    wrong_uid = replace(sub, revisions=[replace(sub.revisions[0], uid="ab" * 32)])
    with pytest.raises(InvalidSubmission, match="does not match"):
        kit.package([wrong_uid])
    assert not out.exists()


def test_an_explicit_time_is_used_as_given(kit):
    path = kit.package([kit.sample()], created="2025-06-01T12:00:00Z")
    assert manifest_data(path)["created"] == "2025-06-01T12:00:00Z"
    with pytest.raises(BuildError, match="UTC time"):
        kit.package([kit.sample()], created="demain")


# ---------------------------------------------------------------------------- refusals: signature


def test_a_package_changed_after_signing_is_refused(kit, good, tmp_path):
    def edit(data):
        data["submissions"][0]["teacher_name"] = "Quelqu'un d'autre"

    forged = rewrite(good, tmp_path / "forged.icsub", edit_manifest=edit)
    refuse(kit, forged, BadSignature)


def test_a_package_from_a_school_server_not_enrolled_is_refused(kit, good, tmp_path):
    stranger = PrivateKey.generate()
    forged = rewrite(good, tmp_path / "stranger.icsub", sign_with=stranger)
    error = refuse(kit, forged, UnknownSchool)
    assert stranger.key_id in str(error) and "enrol" in str(error)
    with pytest.raises(UnknownSchool):
        read_package(good, EnrolledKeys(), kit.store)
    assert stored_files(kit.store) == []


def test_the_key_the_package_carries_is_never_trusted(kit, good, tmp_path):
    # Enrolled under the same id with another public key: the carried key must not be used.
    impostor = EnrolledKeys()
    school = impostor.add(PrivateKey.generate().public, "sn", "Impostor")
    impostor.schools = {kit.key.key_id: replace(school, key_id=kit.key.key_id)}
    with pytest.raises(BadSignature):
        read_package(good, impostor, kit.store)
    assert stored_files(kit.store) == []


def test_a_package_without_a_signature_is_refused(kit, good, tmp_path):
    unsigned = rewrite(good, tmp_path / "unsigned.icsub", drop=lambda n: n == "signature.json")
    refuse(kit, unsigned, SignatureMissing)


def test_a_package_for_another_country_than_the_enrolled_one_is_refused(kit, tmp_path):
    sub = kit.sample()
    out = tmp_path / "ml.icsub"
    build_package([sub], {kit.image_ref.sha256: kit.image}, "ml", kit.key, out)
    error = refuse(kit, out, CountryMismatch)
    assert "country ml" in str(error) and "enrolled for sn" in str(error)


def test_a_package_naming_another_school_key_than_its_signer_is_refused(kit, good, tmp_path):
    def edit(data):
        data["school_key_id"] = "0123456789abcdef"

    forged = edit_and_resign(good, tmp_path / "other-id.icsub", edit, kit.key)
    refuse(kit, forged, BadSignature)


# ---------------------------------------------------------------------------- refusals: manifest


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("Les\x00fractions", "title: contains a NUL character"),
        ("\ud800", "title: contains a lone surrogate (U+D800)"),
        ("bip\x07", "title: contains the invisible control character U+0007"),
    ],
)
def test_bad_characters_in_a_title_are_refused(kit, tmp_path, bad, words):
    path = single(kit)

    def edit(data):
        data["submissions"][0]["revisions"][0]["title"] = bad

    forged = edit_and_resign(path, tmp_path / "bad-title.icsub", edit, kit.key)
    error = refuse(kit, forged, InvalidText)
    assert "submissions[0].revisions[0]" in str(error) and words in str(error)


def test_bad_characters_in_a_teacher_name_are_refused(kit, tmp_path):
    def edit(data):
        data["submissions"][0]["teacher_name"] = "Awa\x00"

    forged = edit_and_resign(single(kit), tmp_path / "bad-name.icsub", edit, kit.key)
    assert "teacher_name" in str(refuse(kit, forged, InvalidText))


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        (b"# Titre\n\nune \x00 ici\n", "contains a NUL character"),
        (b"# Titre\n\x1b[2J\n", "control character U+001B"),
        (b"# Caf\xe9\n", "is not valid UTF-8 text"),
        (b"# \xed\xa0\x80 surrogate\n", "is not valid UTF-8 text"),
    ],
)
def test_bad_markdown_is_refused_after_staging_and_leaves_nothing(kit, tmp_path, markdown, words):
    forged = forge_markdown(single(kit), tmp_path / "bad-md.icsub", markdown, kit.key)
    error = refuse(kit, forged, InvalidText)
    assert "submissions[0].revisions[0].markdown" in str(error) and words in str(error)
    assert not (kit.store.root / ".staging").exists()
    with pytest.raises(InvalidText):
        verify_package(forged, kit.enrolled)


def test_a_refusal_leaves_a_store_that_had_blobs_as_it_was(kit, tmp_path):
    kit.store.put_bytes(b"already here")
    forged = forge_markdown(single(kit), tmp_path / "bad-md.icsub", b"\xff\xfe", kit.key)
    refuse(kit, forged, InvalidText)
    assert len(assert_store_intact(kit.store)) == 1


def test_invalid_utf8_in_the_manifest_is_refused(kit, good, tmp_path):
    with zipfile.ZipFile(good) as archive:
        raw = archive.read("manifest.json")
    broken = raw.replace(b"Awa Diop", b"Aw\xe0 Diop", 1)
    assert broken != raw
    forged = resign(good, tmp_path / "latin1.icsub", broken, kit.key)
    error = refuse(kit, forged, ManifestError)
    assert "not valid UTF-8" in str(error)


@pytest.mark.parametrize(
    ("edit", "error_class", "words"),
    [
        (lambda d: d.update(kind="bundle"), ManifestError, "not a submission package"),
        (lambda d: d.update(format_version=2), UnsupportedPackageFormat, "update Imaginecole"),
        (lambda d: d.pop("country"), ManifestError, "country is missing"),
        (
            lambda d: d["submissions"][0]["revisions"][0].update(title=3),
            ManifestError,
            "title must be a text",
        ),
        (
            lambda d: d["submissions"][0].update(withdrawn="no"),
            ManifestError,
            "withdrawn must be true or false",
        ),
        (
            lambda d: d["submissions"][0]["revisions"][0].update(title="Autre titre"),
            InvalidSubmission,
            "does not match the revision's content",
        ),
        (
            lambda d: d["submissions"].append(d["submissions"][0]),
            ManifestError,
            "listed twice",
        ),
        (
            lambda d: d["files"].update({"cd" * 32: {"size": 1, "media_type": "x/y", "name": "a"}}),
            ManifestError,
            "no revision uses it",
        ),
        (
            lambda d: [f.update(size=1) for f in d["files"].values() if f["name"] == "schéma.png"],
            ManifestError,
            "bytes here and",
        ),
    ],
)
def test_a_malformed_manifest_is_refused_even_when_signed(
    kit, good, tmp_path, edit, error_class, words
):
    forged = edit_and_resign(good, tmp_path / "bad.icsub", edit, kit.key)
    error = refuse(kit, forged, error_class)
    assert words in str(error)


# ---------------------------------------------------------------------------- refusals: blobs


def test_a_corrupt_blob_is_refused(kit, good, tmp_path):
    entries = {info.filename: data for info, data in read_entries(good)}
    name = "blobs/" + kit.image_ref.sha256
    corrupt = rewrite(good, tmp_path / "corrupt.icsub", replace={name: entries[name][::-1]})
    refuse(kit, corrupt, CorruptBlob)


def test_a_missing_blob_is_refused(kit, good, tmp_path):
    name = "blobs/" + kit.image_ref.sha256
    missing = rewrite(good, tmp_path / "missing.icsub", drop=lambda n: n == name)
    refuse(kit, missing, MissingBlob)


def test_an_extra_blob_is_refused(kit, good, tmp_path):
    extra = rewrite(good, tmp_path / "extra.icsub", add=[("blobs/" + "cd" * 32, b"surprise")])
    refuse(kit, extra, UnexpectedEntry)


def test_a_truncated_blob_is_refused(kit, good, tmp_path):
    name = "blobs/" + kit.image_ref.sha256
    short = rewrite(good, tmp_path / "short.icsub", replace={name: PNG[:100]})
    refuse(kit, short, TruncatedBlob)


def test_a_decompression_bomb_is_refused_before_it_is_inflated(kit, good, tmp_path):
    bomb = write_zero_bomb(good, tmp_path / "bomb.icsub", "blobs/" + kit.image_ref.sha256, 8)
    refuse(kit, bomb, (OversizedBlob, DecompressionBomb))


def test_overlapping_entries_are_refused_before_the_signature_is_read(kit, good, tmp_path):
    crafted = add_overlapping_entries(good, tmp_path / "overlap.icsub")
    error = refuse(kit, crafted, DecompressionBomb)
    assert "overlapping" in str(error)


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "blobs/../../x", "C:evil", "notes.txt"])
def test_an_unsafe_or_unknown_entry_name_is_refused(kit, good, tmp_path, name):
    crafted = rewrite(good, tmp_path / "crafted.icsub", add=[(name, b"x")])
    refuse(kit, crafted, (UnsafeEntryName, UnexpectedEntry))


def test_something_that_is_not_a_zip_is_refused(kit, tmp_path):
    junk = tmp_path / "junk.icsub"
    junk.write_bytes(b"not a zip at all" * 100)
    refuse(kit, junk, Exception)


# ---------------------------------------------------------------------------- enrolment


def test_the_enrolment_file_round_trips(kit, tmp_path):
    kit.enrolled.add(PrivateKey.generate().public, "ml", 'Lycée "Askia", Gao')
    path = tmp_path / "enrolled.toml"
    path.write_text(kit.enrolled.to_toml(), encoding="utf-8")
    loaded = load_enrolled(path)
    assert loaded.schools == kit.enrolled.schools


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"key_id": "0123456789abcdef"}, "does not match public_key"),
        ({"country": "SEN"}, "two-letter"),
        ({"name": ""}, "which school"),
        ({"region": "Thiès"}, "unknown field 'region'"),
    ],
)
def test_a_bad_enrolment_entry_is_named(kit, entry, words):
    school = next(iter(kit.enrolled.schools.values()))
    data = {
        "name": school.name,
        "key_id": school.key_id,
        "public_key": school.public_key.to_base64(),
        "country": "sn",
        **entry,
    }
    with pytest.raises(EnrolmentFileError) as caught:
        parse_enrolled({"format": 1, "schools": [data]})
    assert "school 1" in str(caught.value) and words in str(caught.value)


def test_a_school_enrolled_twice_is_refused(kit):
    school = next(iter(kit.enrolled.schools.values()))
    data = {
        "name": school.name,
        "key_id": school.key_id,
        "public_key": school.public_key.to_base64(),
        "country": "sn",
    }
    with pytest.raises(EnrolmentFileError, match="listed twice"):
        parse_enrolled({"schools": [data, data]})


# ---------------------------------------------------------------------------- command line


def test_the_verify_command_reports_good_and_bad_packages(kit, good, tmp_path):
    enrolled = tmp_path / "enrolled.toml"
    enrolled.write_text(kit.enrolled.to_toml(), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["submissions", "verify", str(good), "--enrolled", str(enrolled)])
    assert result.exit_code == 0, result.output
    assert "GOOD" in result.output and "École de Ndiaye" in result.output

    stick = tmp_path / "stick"
    stick.mkdir()
    rewrite(
        good,
        stick / "forged.icsub",
        edit_manifest=lambda d: d.update(created="2024-01-01T00:00:00Z"),
    )
    (stick / "good.icsub").write_bytes(good.read_bytes())
    result = runner.invoke(cli, ["submissions", "verify", str(stick), "--enrolled", str(enrolled)])
    assert result.exit_code == 1
    assert "BAD " in result.output and "GOOD" in result.output
    assert "Traceback" not in result.output
    assert stored_files(kit.store) == []


def test_canonical_json_is_what_is_signed(kit, good):
    with zipfile.ZipFile(good) as archive:
        raw = archive.read("manifest.json")
    assert canonical_json(manifest_data(good)) == raw
