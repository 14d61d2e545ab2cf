"""Submission data: which texts are refused, and how revisions are named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync.submissions import (
    FileRef,
    InvalidSubmission,
    InvalidText,
    SubmissionData,
    check_submission,
    new_submission_uid,
    revision_uid,
    validate_text,
)
from tests.sync.submissions.test_support import revision, submission, uid

SHA = "ab" * 32


@pytest.mark.parametrize(
    "text",
    ["", "Les fractions", "Ligne 1\nLigne 2\r\n\tindentée", "العربية", "emoji 🧮", "\u00a0\u200b"],
)
def test_ordinary_text_is_returned_unchanged(text):
    assert validate_text(text, "title") == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Les\x00fractions", "NUL character at character 4"),
        ("\ud800", "lone surrogate (U+D800)"),
        ("fin\udfff", "lone surrogate (U+DFFF)"),
        ("bip\x07", "control character U+0007"),
        ("\x1b[31mrouge", "control character U+001B"),
        ("\x0bvertical", "control character U+000B"),
    ],
)
def test_nul_lone_surrogates_and_control_characters_are_refused_naming_the_field(text, words):
    with pytest.raises(InvalidText) as caught:
        validate_text(text, "submissions[0].revisions[1].title")
    message = str(caught.value)
    assert message.startswith("submissions[0].revisions[1].title: ")
    assert words in message
    assert caught.value.field == "submissions[0].revisions[1].title"


def test_a_value_that_is_not_text_is_refused():
    with pytest.raises(InvalidText, match="must be a text"):
        validate_text(3, "title")


def test_invalid_text_is_also_a_value_error_for_form_validation():
    with pytest.raises(ValueError):
        validate_text("\x00", "title")


def test_new_submission_uids_are_random_and_valid():
    first, second = new_submission_uid(), new_submission_uid()
    assert first != second
    check_submission(SubmissionData(first, "t-1", "Awa Diop", False, [revision(first)]))


def test_the_content_hash_ignores_parent_and_time_but_not_content():
    sub = uid("a")
    root = revision(sub)
    child = revision(sub, root, created="2026-01-01T00:00:00Z")
    assert root.content_hash() == child.content_hash()  # same content, elsewhere, later
    assert revision(sub, markdown="autre").content_hash() != root.content_hash()
    assert revision(sub, title="Autre").content_hash() != root.content_hash()
    moved = replace(root, files=[FileRef(SHA, "a.png", "image/png", 3)])
    assert moved.content_hash() != root.content_hash()


def test_the_same_edit_made_twice_is_the_same_revision():
    sub = uid("a")
    root = revision(sub)
    assert revision(sub, root).uid == revision(sub, root, created="2030-01-01T00:00:00Z").uid


def test_the_same_text_on_two_parents_or_in_two_submissions_is_two_revisions():
    sub = uid("a")
    root = revision(sub)
    other_root = revision(sub, markdown="# Autre départ\n")
    text = "# Même texte\n"
    assert revision(sub, root, markdown=text).uid != revision(sub, other_root, markdown=text).uid
    assert revision(uid("a")).uid != revision(uid("b")).uid


def test_revision_uid_is_the_documented_hash():
    sub = uid("a")
    root = revision(sub)
    assert root.uid == revision_uid(sub, None, root.content_hash())
    assert len(root.uid) == 64


def test_a_revision_whose_uid_does_not_match_its_content_is_refused():
    sub = uid("a")
    root = revision(sub)
    tampered = replace(root, title="Un autre titre")
    with pytest.raises(InvalidSubmission, match="does not match the revision's content"):
        check_submission(submission("a", tampered))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"title": "   "}, "title: must not be empty"),
        ({"language": "français"}, "is not a language code"),
        ({"created": "hier"}, "is not a UTC time"),
        ({"created": "2025-02-30T00:00:00Z"}, "is not a real date"),
        ({"parent_uid": "pas-un-hash"}, "is not a revision uid"),
        ({"files": [FileRef(SHA, "../evil.png", "image/png", 3)]}, "not a plain file name"),
        ({"files": [FileRef(SHA, "a.png", "image", 3)]}, "is not a media type"),
        ({"files": [FileRef("xyz", "a.png", "image/png", 3)]}, "is not a SHA-256"),
        ({"files": [FileRef(SHA, "a.png", "image/png", -1)]}, "whole number of bytes"),
        ({"levels": ["cm1", "\x00"]}, "levels[1]: contains a NUL"),
        ({"markdown": "texte\x00"}, "markdown: contains a NUL"),
    ],
)
def test_malformed_revisions_are_refused_with_the_field_named(change, words):
    bad = replace(revision(uid("a")), **change)
    with pytest.raises((InvalidSubmission, InvalidText)) as caught:
        check_submission(submission("a", bad))
    assert words in str(caught.value)


def test_a_submission_needs_a_valid_uid_a_teacher_and_something_to_say():
    good = revision(uid("a"))
    with pytest.raises(InvalidSubmission, match="is not a submission uid"):
        check_submission(replace(submission("a", good), uid="Court"))
    with pytest.raises(InvalidSubmission, match="teacher_id: must not be empty"):
        check_submission(submission("a", good, teacher=""))
    with pytest.raises(InvalidSubmission, match="has no revision and is not withdrawn"):
        check_submission(submission("a"))
    check_submission(submission("a", withdrawn=True))  # a withdrawal alone is fine


def test_a_revision_listed_twice_is_refused():
    good = revision(uid("a"))
    with pytest.raises(InvalidSubmission, match="listed twice"):
        check_submission(submission("a", good, good))
