"""Order independence and idempotence of merging, over generated histories.

Hypothesis draws a few submissions from two school servers, each a small tree of revisions
(edits of edits, side-by-side edits, the same text under several submissions so duplicates
occur), and splits them across packages that each carry any part of a school's outbox, with
withdrawals repeated or not. Every delivery order, with repeats, must give the same state.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.submissions import (
    RevisionData,
    SubmissionData,
    heads,
    merge,
    state_after,
    state_summary,
)
from tests.sync.submissions.test_support import revision, uid

SCHOOLS = ("1111111111111111", "2222222222222222")
TEXTS = ("# Les fractions\n", "# Les fractions\n\nUn demi.\n", "# Le cycle de l'eau\n")

Package = tuple[str, list[SubmissionData]]


@st.composite
def histories(draw: st.DrawFn) -> list[Package]:
    """Draw packages that split a few submissions' revision trees between them."""
    submissions: list[tuple[str, str, str, list[RevisionData], bool]] = []
    for number in range(draw(st.integers(1, 4))):
        sub_uid = uid(f"s{number}")
        school = draw(st.sampled_from(SCHOOLS))
        teacher = f"t-{draw(st.integers(0, 1))}"
        revisions: list[RevisionData] = []
        for _ in range(draw(st.integers(1, 5))):
            parent = draw(st.sampled_from(revisions)) if revisions else None
            made = revision(sub_uid, parent, markdown=draw(st.sampled_from(TEXTS)))
            if made.uid not in {r.uid for r in revisions}:
                revisions.append(made)
        submissions.append((school, teacher, sub_uid, revisions, draw(st.booleans())))

    packages: list[Package] = []
    for _ in range(draw(st.integers(1, 4))):
        school = draw(st.sampled_from(SCHOOLS))
        entries = []
        for owner, teacher, sub_uid, revisions, withdrawn in submissions:
            if owner != school:
                continue
            carried = draw(st.lists(st.sampled_from(revisions), unique_by=lambda r: r.uid))
            says_withdrawn = withdrawn and draw(st.booleans())
            if carried or says_withdrawn:
                entries.append(
                    SubmissionData(sub_uid, teacher, "Awa Diop", says_withdrawn, carried)
                )
        packages.append((school, entries))
    return packages


def expected_revisions(packages: list[Package]) -> dict[str, set[str]]:
    """Return, from first principles, every revision received for each submission."""
    found: dict[str, set[str]] = {}
    for _, entries in packages:
        for entry in entries:
            found.setdefault(entry.uid, set()).update(r.uid for r in entry.revisions)
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages=histories(), data=st.data())
def test_any_order_with_any_repeats_gives_the_same_state(packages, data):
    reference = state_after({}, *packages)

    order = list(data.draw(st.permutations(range(len(packages))), label="order"))
    for again in data.draw(
        st.lists(st.integers(0, len(packages) - 1), max_size=4), label="repeats"
    ):
        order.insert(data.draw(st.integers(0, len(order)), label="at"), again)

    state: dict = {}
    for index in order:
        state = merge(state, packages[index]).state
        # Receiving what was just received changes nothing and says so.
        again = merge(state, packages[index])
        assert again.state == state
        assert {d.kind for d in again.decisions} <= {"already_received"}

    assert state == reference
    summary = state_summary(state)
    assert summary == state_summary(reference)

    # And the state is the right one, not only the same one.
    revisions = expected_revisions(packages)
    withdrawn = {e.uid for _, entries in packages for e in entries if e.withdrawn}
    assert {u: set(s["revisions"]) for u, s in summary["submissions"].items()} == revisions
    assert {u for u, s in summary["submissions"].items() if s["withdrawn"]} == withdrawn
    for sub_uid, known in state.items():
        assert summary["submissions"][sub_uid]["conflict"] == (len(heads(known.revisions)) > 1)
        assert known.status == "received"


@settings(max_examples=150, deadline=None)
@given(packages=histories(), data=st.data())
def test_duplicates_follow_the_heads_whatever_the_order(packages, data):
    order = data.draw(st.permutations(packages))
    state = state_after({}, *order)
    found = state_summary(state)["duplicates"]
    # Brute force: the smallest other uid, not withdrawn, whose heads share a content hash.
    contents = {
        sub_uid: {r.content_hash for r in s.revisions if r.uid in heads(s.revisions)}
        for sub_uid, s in state.items()
        if not s.withdrawn
    }
    expected = {}
    for sub_uid, mine in contents.items():
        earlier = sorted(o for o, theirs in contents.items() if o < sub_uid and mine & theirs)
        if earlier:
            expected[sub_uid] = earlier[0]
    assert found == expected
