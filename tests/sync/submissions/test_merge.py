"""Merging packages on the national server: every rule, on plain data."""

from __future__ import annotations

import copy
from dataclasses import replace

from sync.submissions import (
    KnownRevision,
    duplicates,
    heads,
    is_conflict,
    merge,
    missing_parents,
    next_status,
    state_after,
    state_summary,
)
from tests.sync.submissions.test_support import revision, submission, uid

SCHOOL = "1111111111111111"
OTHER_SCHOOL = "2222222222222222"


def chain(name: str, *texts: str):
    """Return revisions of submission ``name``, each edited from the one before."""
    revisions = []
    parent = None
    for text in texts:
        parent = revision(uid(name), parent, markdown=text)
        revisions.append(parent)
    return revisions


# ---------------------------------------------------------------------------- the rules


def test_a_submission_seen_for_the_first_time_is_new():
    r1, r2 = chain("a", "v1", "v2")
    result = merge({}, (SCHOOL, [submission("a", r1, r2)]))
    [decision] = result.decisions
    assert decision.kind == "new"
    assert decision.new_revisions == sorted([r1, r2], key=lambda r: r.uid)
    assert decision.heads == [r2.uid] and not decision.conflict
    assert decision.status == "received"
    assert "new submission with 2 revisions" in decision.message
    known = result.state[uid("a")]
    assert known.school_key_id == SCHOOL and known.teacher_id == "t-1"
    assert {r.uid for r in known.revisions} == {r1.uid, r2.uid}


def test_the_same_package_twice_gives_one_submission_and_says_already_received():
    package = (SCHOOL, [submission("a", *chain("a", "v1", "v2"))])
    first = merge({}, package)
    again = merge(first.state, package)
    [decision] = again.decisions
    assert decision.kind == "already_received" and decision.new_revisions == []
    assert "already received" in decision.message
    assert again.state == first.state
    assert again.describe() == "1 already received"


def test_a_newer_revision_updates_a_pending_submission():
    r1, r2, r3 = chain("a", "v1", "v2", "v3")
    state = state_after({}, (SCHOOL, [submission("a", r1)]))
    result = merge(state, (SCHOOL, [submission("a", r1, r2, r3)]))
    [decision] = result.decisions
    assert decision.kind == "updated"
    assert {r.uid for r in decision.new_revisions} == {r2.uid, r3.uid}
    assert decision.heads == [r3.uid] and not decision.conflict
    assert "2 new revisions" in decision.message


def test_an_older_package_after_a_newer_one_changes_nothing():
    r1, r2 = chain("a", "v1", "v2")
    state = state_after({}, (SCHOOL, [submission("a", r1, r2)]))
    result = merge(state, (SCHOOL, [submission("a", r1)]))
    assert result.decisions[0].kind == "already_received"
    assert result.state == state


def test_two_edits_of_the_same_parent_are_both_kept_and_flagged_as_a_conflict():
    root = revision(uid("a"), markdown="v1")
    left = revision(uid("a"), root, markdown="v2 corrigée en classe")
    right = revision(uid("a"), root, markdown="v2 corrigée à la maison")
    state = state_after({}, (SCHOOL, [submission("a", root, left)]))
    result = merge(state, (SCHOOL, [submission("a", root, right)]))
    [decision] = result.decisions
    assert decision.kind == "conflict" and decision.conflict
    assert decision.heads == sorted([left.uid, right.uid])
    assert "both are kept" in decision.message
    assert {r.uid for r in result.state[uid("a")].revisions} == {root.uid, left.uid, right.uid}


def test_a_conflict_arriving_in_one_package_is_new_and_flagged():
    root = revision(uid("a"), markdown="v1")
    left = revision(uid("a"), root, markdown="a")
    right = revision(uid("a"), root, markdown="b")
    [decision] = merge({}, (SCHOOL, [submission("a", root, left, right)])).decisions
    assert decision.kind == "new" and decision.conflict


def test_identical_content_from_another_school_is_flagged_as_a_duplicate():
    text = "# Les fractions\n\nCopié mot pour mot.\n"
    mine = submission("a", revision(uid("a"), markdown=text))
    theirs = submission("b", revision(uid("b"), markdown=text), teacher="t-9")
    state = state_after({}, (SCHOOL, [mine]))
    result = merge(state, (OTHER_SCHOOL, [theirs]))
    assert result.decisions[0].duplicate_of == uid("a")
    assert result.duplicates == {uid("b"): uid("a")}
    # The other way round, the smaller uid is still the one pointed to.
    other_way = state_after({}, (OTHER_SCHOOL, [theirs]), (SCHOOL, [mine]))
    assert state_summary(other_way)["duplicates"] == {uid("b"): uid("a")}


def test_a_duplicate_stops_being_one_when_its_head_changes():
    text = "# Même début\n"
    a = revision(uid("a"), markdown=text)
    b = revision(uid("b"), markdown=text)
    b2 = revision(uid("b"), b, markdown="# Puis autre chose\n")
    state = state_after({}, (SCHOOL, [submission("a", a), submission("b", b)]))
    assert state_summary(state)["duplicates"] == {uid("b"): uid("a")}
    result = merge(state, (SCHOOL, [submission("b", b, b2)]))
    assert result.duplicates == {} and result.decisions[0].duplicate_of is None


def test_a_withdrawn_submission_is_not_a_duplicate_nor_the_original_of_one():
    text = "# Retiré puis soumis de nouveau\n"
    old = submission("a", revision(uid("a"), markdown=text), withdrawn=True)
    again = submission("b", revision(uid("b"), markdown=text))
    state = state_after({}, (SCHOOL, [old, again]))
    assert state_summary(state)["duplicates"] == {}


def test_a_submission_of_another_school_is_never_touched():
    r1 = revision(uid("a"), markdown="v1")
    state = state_after({}, (SCHOOL, [submission("a", r1)]))
    intruder = revision(uid("a"), r1, markdown="écrasé")
    innocent = submission("b", revision(uid("b"), markdown="autre"))
    result = merge(state, (OTHER_SCHOOL, [submission("a", r1, intruder, withdrawn=True), innocent]))
    refused, new = result.decisions
    assert refused.kind == "refused" and refused.new_revisions == [] and refused.status is None
    assert "another school server" in refused.message
    assert result.state[uid("a")] == state[uid("a")]
    assert new.kind == "new"  # the rest of the package is merged


def test_a_submission_of_another_teacher_of_the_same_school_is_refused():
    r1 = revision(uid("a"), markdown="v1")
    state = state_after({}, (SCHOOL, [submission("a", r1)]))
    result = merge(state, (SCHOOL, [submission("a", r1, teacher="t-2", withdrawn=True)]))
    assert result.decisions[0].kind == "refused"
    assert result.state == state


def test_a_child_arriving_before_its_parent_converges():
    r1, r2, r3 = chain("a", "v1", "v2", "v3")
    early = merge({}, (SCHOOL, [submission("a", r3)]))
    assert early.decisions[0].missing_parents == [r2.uid]
    assert "not received yet" in early.decisions[0].message
    later = state_after(early.state, (SCHOOL, [submission("a", r1, r2)]))
    in_order = state_after({}, (SCHOOL, [submission("a", r1, r2)]), (SCHOOL, [submission("a", r3)]))
    assert later == in_order
    summary = state_summary(later)["submissions"][uid("a")]
    assert summary["heads"] == [r3.uid] and not summary["conflict"]
    assert summary["missing_parents"] == []


def test_a_withdrawal_is_final_and_travels_even_without_revisions():
    r1, r2 = chain("a", "v1", "v2")
    state = state_after({}, (SCHOOL, [submission("a", r1)]))
    withdrawn = merge(state, (SCHOOL, [submission("a", withdrawn=True)]))
    [decision] = withdrawn.decisions
    assert decision.kind == "updated" and decision.withdrawn and decision.newly_withdrawn
    assert "withdrawn by its teacher" in decision.message
    # A later package that does not say so, even with a newer revision, does not bring it back.
    after = merge(withdrawn.state, (SCHOOL, [submission("a", r1, r2)]))
    [decision] = after.decisions
    assert decision.kind == "updated" and decision.withdrawn and not decision.newly_withdrawn
    assert "stays withdrawn" in decision.message
    assert {r.uid for r in after.state[uid("a")].revisions} == {r1.uid, r2.uid}  # nothing lost


def test_withdrawal_gives_the_same_state_in_either_order():
    r1, r2 = chain("a", "v1", "v2")
    withdraw = (SCHOOL, [submission("a", r1, withdrawn=True)])
    newer = (SCHOOL, [submission("a", r1, r2)])
    one_way = state_after({}, withdraw, newer)
    other_way = state_after({}, newer, withdraw)
    assert state_summary(one_way) == state_summary(other_way)
    assert one_way[uid("a")].withdrawn


def test_a_withdrawal_seen_first_creates_the_submission_and_the_revisions_join_it():
    r1 = revision(uid("a"), markdown="v1")
    state = state_after({}, (SCHOOL, [submission("a", withdrawn=True)]))
    assert state[uid("a")].revisions == [] and state[uid("a")].withdrawn
    result = merge(state, (SCHOOL, [submission("a", r1)]))
    assert result.decisions[0].kind == "updated" and result.decisions[0].withdrawn


def test_new_revisions_send_a_decided_submission_back_to_review():
    r1, r2 = chain("a", "v1", "v2")
    state = state_after({}, (SCHOOL, [submission("a", r1)]))
    for status, expected in [
        ("changes_requested", "received"),
        ("rejected", "received"),
        ("accepted", "received"),
        ("in_review", "in_review"),
    ]:
        decided = {uid("a"): replace(state[uid("a")], status=status)}
        assert merge(decided, (SCHOOL, [submission("a", r1, r2)])).decisions[0].status == expected
        # Nothing new: the reviewer's status stands.
        assert merge(decided, (SCHOOL, [submission("a", r1)])).decisions[0].status == status
    assert next_status(None, False) == "received"


def test_merge_leaves_the_known_state_untouched():
    r1, r2 = chain("a", "v1", "v2")
    known = state_after({}, (SCHOOL, [submission("a", r1)]))
    snapshot = copy.deepcopy(known)
    merge(known, (SCHOOL, [submission("a", r1, r2)]))
    assert known == snapshot


def test_identity_is_the_school_given_to_merge_not_anything_in_the_submissions():
    r1 = revision(uid("a"))
    state = state_after({}, (OTHER_SCHOOL, [submission("a", r1)]))
    assert state[uid("a")].school_key_id == OTHER_SCHOOL


# ---------------------------------------------------------------------------- graph helpers


def test_heads_and_conflicts_of_a_revision_graph():
    a = KnownRevision("a" * 64, None, "x")
    b = KnownRevision("b" * 64, "a" * 64, "y")
    c = KnownRevision("c" * 64, "a" * 64, "z")
    orphan = KnownRevision("d" * 64, "e" * 64, "w")
    assert heads([]) == [] and not is_conflict([])
    assert heads([a, b]) == ["b" * 64] and not is_conflict([a, b])
    assert heads([a, b, c]) == ["b" * 64, "c" * 64] and is_conflict([c, b, a])
    assert heads([orphan]) == ["d" * 64] and missing_parents([orphan]) == ["e" * 64]


def test_duplicates_point_to_the_smallest_uid_of_a_group():
    def one(content: str) -> list[KnownRevision]:
        return [KnownRevision(content * 64, None, content)]

    found = duplicates({"s3": one("a"), "s1": one("a"), "s2": one("a"), "s4": one("b")})
    assert found == {"s2": "s1", "s3": "s1"}
    assert duplicates({"s1": one("a"), "s2": one("a")}, withdrawn={"s1"}) == {}


def test_the_worked_example_of_the_documentation():
    r1 = revision(uid("x"), markdown="R1")
    r2 = revision(uid("x"), r1, markdown="R2")
    r2_prime = revision(uid("x"), r1, markdown="R2 prime")
    y = revision(uid("y"), markdown="Y")
    a = (SCHOOL, [submission("x", r1, r2)])
    b = (SCHOOL, [submission("x", r1, r2_prime), submission("y", y, withdrawn=True)])

    first_a = merge({}, a)
    then_b = merge(first_a.state, b)
    first_b = merge({}, b)
    then_a = merge(first_b.state, a)
    assert [d.kind for d in then_b.decisions] == ["conflict", "new"]
    assert [d.kind for d in first_b.decisions] == ["new", "new"]
    assert [d.kind for d in then_a.decisions] == ["conflict"]
    assert then_b.state == then_a.state
    assert then_a.decisions[0].heads == sorted([r2.uid, r2_prime.uid])
    assert then_a.state[uid("y")].withdrawn
    for package in (a, b):
        assert {d.kind for d in merge(then_a.state, package).decisions} == {"already_received"}
