"""Reviewers' statuses of teacher submissions, travelling down to schools inside bundles."""

from __future__ import annotations

import pytest

from sync.bundle import (
    BadSignature,
    BuildError,
    InstalledState,
    ManifestError,
    SubmissionStatus,
    parse_manifest,
    read_manifest,
    stage_bundle,
    verify_bundle,
)
from sync.bundle.manifest import canonical_json
from tests.sync.bundle.test_support import make_kit, manifest_data, rewrite
from tests.sync.submissions.test_support import revision, uid

NOTHING = InstalledState()


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path)


def statuses() -> list[SubmissionStatus]:
    return [
        SubmissionStatus(
            uid("b"), "accepted", "Merci, publié.", "zz-maths-fractions", revision(uid("b")).uid
        ),
        SubmissionStatus(
            uid("a"),
            "changes_requested",
            "Ajoutez un exercice\nà la fin, s'il vous plaît.",
            None,
            revision(uid("a")).uid,
        ),
    ]


def test_statuses_travel_signed_and_come_back_from_staging(kit):
    bundle = kit.build(submission_statuses=statuses())
    staged = stage_bundle(bundle, kit.trust, kit.store, NOTHING)
    assert staged.submission_statuses == sorted(statuses(), key=lambda s: s.uid)
    listed = manifest_data(bundle)["submission_statuses"]
    assert [s["uid"] for s in listed] == [uid("a"), uid("b")]
    assert set(listed[0]) == {"uid", "status", "comment", "module_id", "revision_uid"}
    assert verify_bundle(bundle, kit.trust).ok


def test_a_status_changed_after_signing_is_refused(kit, tmp_path):
    bundle = kit.build(submission_statuses=statuses())

    def edit(data):
        data["submission_statuses"][1]["status"] = "rejected"

    forged = rewrite(bundle, tmp_path / "forged.icb", edit_manifest=edit)
    with pytest.raises(BadSignature):
        stage_bundle(forged, kit.trust, kit.store, NOTHING)


def test_a_bundle_without_statuses_keeps_its_old_manifest_and_reads_as_empty(kit):
    bundle = kit.build()
    assert "submission_statuses" not in manifest_data(bundle)
    assert stage_bundle(bundle, kit.trust, kit.store, NOTHING).submission_statuses == []


def test_a_null_list_reads_as_empty_too(kit):
    data = manifest_data(kit.build())
    data["submission_statuses"] = None
    assert parse_manifest(canonical_json(data)).submission_statuses == []


def test_statuses_can_ship_in_an_update_with_no_module_changed(kit):
    base = read_manifest(kit.build(version=1), kit.trust)
    update = kit.build(version=2, base_manifest=base, submission_statuses=statuses())
    manifest = read_manifest(update, kit.trust)
    assert manifest.modules == [] and len(manifest.submission_statuses) == 2
    staged = stage_bundle(update, kit.trust, kit.store, InstalledState({("zz", "main"): 1}))
    assert [s.uid for s in staged.submission_statuses] == [uid("a"), uid("b")]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (SubmissionStatus(uid("a"), "lost", "", None, "ab" * 32), "unknown status"),
        (
            SubmissionStatus(uid("a"), "rejected", "", "zz-maths-fractions", "ab" * 32),
            "only an accepted",
        ),
        (
            SubmissionStatus(uid("a"), "accepted", "", "sn-maths-fractions", "ab" * 32),
            "does not belong",
        ),
        (SubmissionStatus("Court", "received", "", None, "ab" * 32), "malformed"),
        (SubmissionStatus(uid("a"), "received", "", None, "pas-un-hash"), "malformed"),
        (SubmissionStatus(uid("a"), "received", "bip\x07", None, "ab" * 32), "control character"),
    ],
)
def test_the_builder_refuses_bad_statuses(kit, status, words):
    with pytest.raises(BuildError, match=words):
        kit.build(submission_statuses=[status])


def test_the_builder_refuses_two_statuses_for_one_submission(kit):
    one = statuses()[1]
    with pytest.raises(BuildError, match="listed twice"):
        kit.build(submission_statuses=[one, one])


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda s: s.update(status="perdu"), "not one of received"),
        (lambda s: s.pop("revision_uid"), "revision_uid is missing"),
        (lambda s: s.update(comment=3), "comment must be a text"),
        (lambda s: s.update(module_id="Pas Un Id"), "is not a module id"),
    ],
)
def test_a_reader_refuses_malformed_statuses(kit, edit, words):
    data = manifest_data(kit.build(submission_statuses=statuses()))
    edit(data["submission_statuses"][0])
    with pytest.raises(ManifestError, match=words):
        parse_manifest(canonical_json(data))
