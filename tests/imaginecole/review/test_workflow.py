"""A review workflow a national team shares: claim and release, a second reviewer, the rubric,
fixing the classification, conflicts side by side, and what the teacher is shown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.review import operations as review
from imaginecole.review.models import RUBRIC, Review, ReviewAssignment
from imaginecole.submissions.models import Submission
from imaginecole.submissions.operations import add_revision
from imaginecole.submissions.queries import reviewer_changes
from sync.submissions import make_revision
from tests.imaginecole.national_helpers import (
    Page,
    add_accounts,
    client_as,
    copy_test_content,
    loaded_app,
    post,
)

UID = "sub-baobab-0001"
ITEM = f"/en/review/{UID}"
MARKDOWN = "Le baobab donne des fruits.\n\nPartageons-les en quatre.\n\nFin de la leçon.\n"
PEOPLE = (
    ("editor-zz", "editor", "zz"),
    ("editor2-zz", "editor", "zz"),
    ("editor3-zz", "editor", "zz"),
    ("editor-yy", "editor", "yy"),
    ("teacher-zz", "teacher", "zz"),
    ("admin", "admin", None),
)
SCORES = {f"score_{criterion}": "3" for criterion in RUBRIC}


@dataclasses.dataclass
class Server:
    app: object

    def client(self, who: str | None = None):
        return client_as(self.app, who)

    def submission(self) -> Submission:
        return db.session.scalar(select(Submission).filter_by(uid=UID))

    def user(self, who: str) -> User:
        return db.session.scalar(select(User).filter_by(email=f"{who}@example.org"))

    def status(self) -> str:
        with self.app.app_context():
            return self.submission().status

    def assignment(self) -> tuple[str, str] | None:
        with self.app.app_context():
            row = db.session.get(ReviewAssignment, self.submission().id)
            if row is None:
                return None
            second = row.second_reviewer.email if row.second_reviewer else ""
            return row.reviewer.email, second


def add_submission(app, uid: str = UID, *, conflict: bool = False) -> None:
    """Store a submission as a merged package leaves it on the national server."""
    with app.app_context():
        submission = Submission(
            uid=uid,
            country_code="zz",
            status="received",
            school_key_id="k" * 16,
            school_name="École A de Zedville",
            teacher_ref="kkkk:1",
            teacher_name="Awa Diop",
            conflict=conflict,
        )
        db.session.add(submission)
        base = make_revision(
            uid, None, title="Le baobab et les fractions", markdown=MARKDOWN,
            created="2026-11-02T08:00:00Z", summary="Partager des fruits.", levels=["CM1"],
            subject="mathematiques", competencies=["ZZ-MATH-1"], licence="CC-BY-4.0",
        )  # fmt: skip
        add_revision(submission, base)
        if conflict:
            for minute, text in ((10, "Version de la classe A."), (20, "Version de la classe B.")):
                head = make_revision(
                    uid, base.uid, title=f"Le baobab ({minute})", markdown=text,
                    created=f"2026-11-03T08:{minute}:00Z", levels=["CM1"],
                    subject="mathematiques", licence="CC-BY-4.0",
                )  # fmt: skip
                add_revision(submission, head)
        db.session.commit()


@pytest.fixture
def server(tmp_path: Path) -> Server:
    app = loaded_app(tmp_path / "data", copy_test_content(tmp_path / "content"))
    add_accounts(app, PEOPLE)
    add_submission(app)
    return Server(app)


def decide(client, decision: str, comment: str = "", **fields):
    return post(client, ITEM, {**SCORES, "decision": decision, "comment": comment, **fields})


def text(response) -> str:
    return Page(response.get_data(as_text=True)).text


# ---------------------------------------------------------------------------- claim and release


def test_a_reviewer_claims_and_the_queue_shows_who_has_what(server):
    first = server.client("editor-zz")
    queue = text(first.get("/en/review/"))
    assert "Assigned to" in queue and "Mathematics" in queue  # the subject by name
    assert "mathematiques" not in queue

    response = post(first, f"{ITEM}/claim", {}, follow_redirects=True)
    assert "You review this resource now." in text(response)
    assert server.assignment() == ("editor-zz@example.org", "")
    assert "Editor Zz" in text(first.get("/en/review/"))
    assert UID in first.get("/en/review/?assigned=mine").get_data(as_text=True)
    assert UID not in first.get("/en/review/?assigned=nobody").get_data(as_text=True)

    # Someone else can neither claim it nor decide on it, and nothing changes.
    other = server.client("editor2-zz")
    response = post(other, f"{ITEM}/claim", {}, follow_redirects=True)
    assert "Another reviewer has this resource." in text(response)
    response = decide(other, "accept")
    assert response.status_code == 400
    assert "Another reviewer has this resource." in text(response)
    response = post(other, f"{ITEM}/release", {}, follow_redirects=True)
    assert "Only the reviewer who has this resource, or an admin" in text(response)
    assert server.assignment() == ("editor-zz@example.org", "")
    assert server.status() == "received"

    post(first, f"{ITEM}/release", {})
    assert server.assignment() is None
    post(other, f"{ITEM}/claim", {})
    assert server.assignment() == ("editor2-zz@example.org", "")
    # An admin may take it back for the team.
    post(server.client("admin"), f"{ITEM}/release", {})
    assert server.assignment() is None


def test_claiming_needs_the_right_role_and_country(server):
    assert post(server.client("teacher-zz"), f"{ITEM}/claim", {}).status_code == 403
    assert post(server.client("editor-yy"), f"{ITEM}/claim", {}).status_code == 404
    assert server.assignment() is None
    with server.app.app_context():
        with pytest.raises(PermissionError):
            review.claim(server.submission(), server.user("teacher-zz"))


def test_deciding_claims_what_nobody_has_and_frees_it_once_decided(server):
    client = server.client("editor-zz")
    response = decide(client, "changes", "Ajoutez un exercice.")
    assert response.status_code == 302
    assert server.status() == "changes_requested"
    assert server.assignment() is None  # decided: out of the queue


# ---------------------------------------------------------------------------- second reviewer


def _with_second_reviewer(server) -> None:
    first = server.client("editor-zz")
    post(first, f"{ITEM}/claim", {})
    with server.app.app_context():
        second = server.user("editor2-zz")
    response = post(
        first, f"{ITEM}/second", {"second_reviewer": str(second.id)}, follow_redirects=True
    )
    assert "Editor2 Zz will confirm your decision before it takes effect." in text(response)
    assert server.assignment() == ("editor-zz@example.org", "editor2-zz@example.org")


def test_a_second_reviewer_who_agrees_makes_the_decision_take_effect(server):
    _with_second_reviewer(server)
    first, second = server.client("editor-zz"), server.client("editor2-zz")

    # Nothing to confirm before the first reviewer decides.
    assert "The first reviewer has not decided yet" in text(decide(second, "accept"))

    response = decide(first, "accept", "Bravo.", title="Partager les fruits du baobab")
    assert response.status_code == 302
    assert server.status() == "received"  # waits for the second reviewer
    page = text(second.get(ITEM))
    assert "Editor Zz decided: Accept and publish. Waiting for the second reviewer." in page
    assert "Your decision is waiting for the second reviewer." in text(
        decide(first, "reject", "Non.")
    )

    assert decide(second, "accept", "D'accord.").status_code == 302
    assert server.status() == "accepted"
    with server.app.app_context():
        submission = server.submission()
        assert submission.comment == "Bravo."  # the first reviewer's message and edits
        module = db.session.scalar(select(Module).filter_by(uid=submission.module_uid))
        assert module.title["fr"] == "Partager les fruits du baobab"
        stages = [(r.stage, r.outcome) for r in submission.reviews]
    assert stages == [("first", "confirmed"), ("second", "")]


def test_a_second_reviewer_who_disagrees_sends_it_back_with_both_reviews(server):
    _with_second_reviewer(server)
    first, second = server.client("editor-zz"), server.client("editor2-zz")
    decide(first, "accept", "Très bien.")
    response = post(
        second, ITEM, {**SCORES, "score_accuracy": "1", "decision": "changes",
                       "comment": "Une erreur de calcul."}, follow_redirects=True,
    )  # fmt: skip
    assert "You disagree with the first reviewer" in text(response)
    assert server.status() == "received"
    with server.app.app_context():
        assert server.submission().module_uid is None  # nothing published
    page = text(first.get(ITEM))
    assert "the second reviewer disagreed" in page
    assert "Une erreur de calcul." in page and "Très bien." in page
    # Both reviews' scores are kept and shown with what they mean.
    assert "1/4 · Contains serious errors." in page
    assert "3/4 · Correct, with small inaccuracies." in page
    # The first reviewer decides again, for the second to confirm.
    assert decide(first, "changes", "Corrigez le calcul.").status_code == 302
    assert decide(second, "changes", "Oui.").status_code == 302
    assert server.status() == "changes_requested"


def test_the_second_reviewer_must_be_a_reviewer_of_the_country(server):
    first = server.client("editor-zz")
    post(first, f"{ITEM}/claim", {})
    with server.app.app_context():
        ids = {who: server.user(who).id for who in ("teacher-zz", "editor-yy", "editor-zz")}
    for who, user_id in ids.items():
        response = post(
            first, f"{ITEM}/second", {"second_reviewer": str(user_id)}, follow_redirects=True
        )
        assert "Choose from the list." in text(response), who
    assert server.assignment() == ("editor-zz@example.org", "")
    other = server.client("editor3-zz")
    response = post(
        other, f"{ITEM}/second", {"second_reviewer": str(ids["editor-zz"])}, follow_redirects=True
    )
    assert "Only the reviewer who has this resource" in text(response)


# ---------------------------------------------------------------------------- the form


def test_the_rubric_shows_descriptors_and_decisions_are_translated(server):
    client = server.client("editor-zz")
    english = text(client.get(ITEM))
    assert "4 · Correct throughout." in english
    assert decide(client, "changes", "Ajoutez un exercice.").status_code == 302
    words = text(client.get(f"/fr/review/{UID}"))
    assert "Demander des modifications" in words  # the earlier review's decision, in French
    assert " changes " not in f" {words} "
    assert "Mathématiques" in words and "mathematiques" not in words


def test_a_stale_form_is_refused_and_keeps_what_was_typed(server):
    client = server.client("editor-zz")
    response = decide(client, "accept", "Parfait.", revision="0" * 64)
    assert response.status_code == 400
    page = text(response)
    assert "The teacher sent a newer version while you were reviewing." in page
    assert "Parfait." in response.get_data(as_text=True)
    assert server.status() == "received"


def test_the_reviewer_fixes_level_subject_and_competencies_before_publishing(server):
    client = server.client("editor-zz")
    bad = decide(client, "accept", fix_classification="1", levels="CM9", subject="mathematiques")
    assert bad.status_code == 400 and server.status() == "received"
    response = post(
        client, ITEM,
        {**SCORES, "decision": "accept", "comment": "", "fix_classification": "1",
         "levels": ["CM1", "7e année"], "subject": "mathematiques",
         "competencies": ["ZZ-MATH-1-1"], "markdown": MARKDOWN.replace("quatre", "huit")},
    )  # fmt: skip
    assert response.status_code == 302, text(response)[:800]
    with server.app.app_context():
        submission = server.submission()
        module = db.session.scalar(select(Module).filter_by(uid=submission.module_uid))
        assert [level.code for level in module.levels] == ["CM1", "7e année"]
        assert [c.code for c in module.competencies("teaches")] == ["ZZ-MATH-1-1"]
        # What the teacher is shown: the reviewer's changes, as a readable comparison.
        changes = {change.field: change for change in reviewer_changes(submission)}
        assert set(changes) == {"levels", "competencies", "markdown"}
        assert (changes["levels"].before, changes["levels"].after) == ("CM1", "CM1, 7e année")
        kinds = [(line.kind, line.text) for line in changes["markdown"].lines]
        assert ("removed", "Partageons-les en quatre.") in kinds
        assert ("added", "Partageons-les en huit.") in kinds
        stored = db.session.scalars(select(Review)).one()
        assert stored.edits["levels"] == ["7e année", "CM1"]
        assert stored.edits["competencies"] == ["ZZ-MATH-1-1"]
        assert "subject" not in stored.edits  # unchanged


def test_a_conflict_shows_both_versions_side_by_side(tmp_path):
    app = loaded_app(tmp_path / "data", copy_test_content(tmp_path / "content"))
    add_accounts(app, PEOPLE)
    add_submission(app, conflict=True)
    page = client_as(app, "editor-zz").get(ITEM).get_data(as_text=True)
    assert 'class="side-by-side" id="conflict"' in page
    words = Page(page).text
    assert "Version de la classe A." in words and "Version de la classe B." in words
    assert words.index("Version de la classe A.") < words.index("Version de la classe B.")
