"""Who may open which page: every role, in its own country and in another one.

Anonymous visitors are sent to the login page; a role that may not act gets 403, and a
submission that is not one's own (or of one's country) answers 404, exactly as a submission
that does not exist, so nothing tells an outsider it is there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.extensions import db
from imaginecole.submissions.models import Revision, Submission
from imaginecole.submissions.operations import SubmissionForm, create_submission
from sync.submissions import make_revision, new_submission_uid
from tests.conftest import TEST_CONTENT, load_content, make_app

PASSWORD = "correct horse battery"
FAST_HASH = "scrypt:1024:8:1"  # the same check at login, with fewer rounds
ORIGIN = {"Origin": "http://localhost"}
ROLES = ("anonymous", "teacher_zz", "teacher_yy", "editor_zz", "editor_yy", "admin")
ACCOUNTS = {
    # role: (e-mail, role, country)
    "teacher_zz": ("awa@ecole-a.zz", "teacher", "zz"),
    "teacher_yy": ("yao@ecole.yy", "teacher", "yy"),
    "editor_zz": ("moussa@education.zz", "editor", "zz"),
    "editor_yy": ("aya@education.yy", "editor", "yy"),
    "admin": ("root@imaginecole.org", "admin", None),
    # Not a role of the matrix: the author of "someone else's" submission.
    "colleague_zz": ("fatou@ecole-a.zz", "teacher", "zz"),
}
LOGIN = "login"  # expected outcome: a redirect to the login page


def content_with_two_countries(root: Path) -> Path:
    """The zz test content, plus a country yy with the same curriculum and no module."""
    content = root / "content"
    shutil.copytree(TEST_CONTENT, content)
    (content / "yy").mkdir()
    text = (content / "zz" / "curriculum.toml").read_text("utf-8")
    text = text.replace('code = "zz"', 'code = "yy"').replace("zz-test", "yy-test")
    text = text.replace("ZZ-", "YY-").replace("Zedland", "Ygrecland")
    (content / "yy" / "curriculum.toml").write_text(text, encoding="utf-8")
    return content


def a_form(title: str, country: str = "zz") -> SubmissionForm:
    return SubmissionForm(
        title=title,
        summary="Partager une galette en parts égales.",
        language="fr",
        levels=["CM1"],
        subject="mathematiques",
        competencies=[f"{country.upper()}-MATH-1"],
        licence="CC-BY-SA-4.0",
        markdown="# Les fractions\n\nUn demi, c'est une part sur deux.\n",
    )


def received_submission(country: str, title: str) -> Submission:
    """A submission as a national server holds it after merging a school's package."""
    uid = new_submission_uid()
    data = make_revision(
        uid, None, title=title, summary="Résumé.", language="fr", levels=["CM1"],
        subject="mathematiques", competencies=[], licence="CC-BY-4.0",
        markdown="# Titre\n\nTexte.\n", files=[], created="2030-01-01T08:00:00Z",
    )  # fmt: skip
    submission = Submission(
        uid=uid,
        country_code=country,
        status="received",
        school_key_id="0123456789abcdef",
        school_name="École de Zedville",
        teacher_ref="0123456789abcdef:7",
        teacher_name="Awa Diop",
    )
    submission.revisions.append(
        Revision(
            uid=data.uid,
            parent_uid=None,
            content_hash=data.content_hash(),
            title=data.title,
            summary=data.summary,
            language="fr",
            levels=data.levels,
            subject=data.subject,
            competencies=[],
            licence=data.licence,
            markdown=data.markdown,
            files=[],
            created=data.created,
        )  # fmt: skip
    )
    db.session.add(submission)
    db.session.commit()
    return submission


class World:
    """One server holding teachers' drafts (school side) and received work (national side)."""

    def __init__(self, root: Path):
        self.app = make_app(root / "data")
        assert not load_content(self.app, content_with_two_countries(root)).problems
        self.uids: dict[str, str] = {}
        with self.app.app_context():
            people = {}
            for key, (email, role, country) in ACCOUNTS.items():
                people[key] = create_user(email, key, PASSWORD, role, country, "École")
                people[key].password_hash = generate_password_hash(PASSWORD, FAST_HASH)
            db.session.commit()
            self.uids["own_teacher_zz"] = create_submission(people["teacher_zz"], a_form("A")).uid
            self.uids["own_teacher_yy"] = create_submission(
                people["teacher_yy"], a_form("B", "yy")
            ).uid
            self.uids["colleague"] = create_submission(people["colleague_zz"], a_form("C")).uid
            self.uids["national_zz"] = received_submission("zz", "Reçue de Zedland").uid
            self.uids["national_yy"] = received_submission("yy", "Reçue d'Ygrecland").uid
        self.clients = {"anonymous": self.app.test_client()}
        for role in ROLES[1:]:
            client = self.app.test_client()
            response = client.post(
                "/en/login",
                data={"email": ACCOUNTS[role][0], "password": PASSWORD},
                headers=ORIGIN,
            )
            assert response.status_code == 302, role
            self.clients[role] = client

    def token(self, role: str) -> str:
        if role == "anonymous":
            return ""
        with self.clients[role].session_transaction() as session:
            return session["csrf"]

    def status_of(self, key: str) -> str:
        with self.app.app_context():
            return db.session.scalar(select(Submission.status).filter_by(uid=self.uids[key]))

    def revisions_of(self, key: str) -> int:
        with self.app.app_context():
            submission = db.session.scalar(select(Submission).filter_by(uid=self.uids[key]))
            return len(submission.revisions)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("permissions"))


# ---------------------------------------------------------------------------- the matrix

# action: (method, path, form fields, {role: expected}); {uid:key} is replaced by a uid.
# "edit own" opens the role's own submission when it has one (teachers), otherwise the zz
# teacher's: for an editor or an admin that is someone else's.
ACTIONS = {
    "my submissions": ("GET", "/en/my/submissions", None,
                       dict(teacher_zz=200, teacher_yy=200, editor_zz=403, editor_yy=403,
                            admin=200)),
    "new": ("GET", "/en/my/submissions/new", None,
            dict(teacher_zz=200, teacher_yy=200, editor_zz=403, editor_yy=403,
                 admin=403)),  # an admin acts for no country, so writes for none
    "edit own": ("GET", "/en/my/submissions/{own}/edit", None,
                 dict(teacher_zz=200, teacher_yy=200, editor_zz=403, editor_yy=403,
                      admin=404)),
    "edit someone else's": ("GET", "/en/my/submissions/{colleague}/edit", None,
                            dict(teacher_zz=404, teacher_yy=404, editor_zz=403, editor_yy=403,
                                 admin=404)),
    "save someone else's": ("POST", "/en/my/submissions/{colleague}/edit",
                            {"title": "Volé", "action": "save"},
                            dict(teacher_zz=404, teacher_yy=404, editor_zz=403, editor_yy=403,
                                 admin=404)),
    "see someone else's": ("GET", "/en/my/submissions/{colleague}", None,
                           dict(teacher_zz=404, teacher_yy=404, editor_zz=403, editor_yy=403,
                                admin=404)),
    "withdraw someone else's": ("POST", "/en/my/submissions/{colleague}/withdraw", {},
                                dict(teacher_zz=404, teacher_yy=404, editor_zz=403,
                                     editor_yy=403, admin=404)),
    "review queue": ("GET", "/en/review/", None,
                     dict(teacher_zz=403, teacher_yy=403, editor_zz=200, editor_yy=200,
                          admin=200)),
    "review item of zz": ("GET", "/en/review/{national_zz}", None,
                          dict(teacher_zz=403, teacher_yy=403, editor_zz=200, editor_yy=404,
                               admin=200)),
    "decide on zz": ("POST", "/en/review/{national_zz}",
                     {"decision": "changes", "comment": "Ajoutez un exercice.",
                      **{f"score_{c}": "3" for c in ("curriculum_fit", "accuracy", "pedagogy",
                                                      "accessibility", "licence")}},
                     dict(teacher_zz=403, teacher_yy=403, editor_zz=302, editor_yy=404,
                          admin=302)),
    "package upload": ("GET", "/en/review/packages", None,
                       dict(teacher_zz=403, teacher_yy=403, editor_zz=200, editor_yy=200,
                            admin=200)),
    "admin bundles": ("GET", "/en/admin/bundles", None,
                      dict(teacher_zz=403, teacher_yy=403, editor_zz=403, editor_yy=403,
                           admin=200)),
    "admin outbox": ("GET", "/en/admin/outbox", None,
                     dict(teacher_zz=403, teacher_yy=403, editor_zz=403, editor_yy=403,
                          admin=200)),
}  # fmt: skip
CASES = [(role, action) for action in ACTIONS for role in ROLES]


def request(world: World, role: str, action: str, uid_of=None):
    method, path, fields, _expected = ACTIONS[action]
    own = world.uids.get(f"own_{role}", world.uids["own_teacher_zz"])
    uids = {"own": own, **world.uids, **(uid_of or {})}
    url = path.format(**uids)
    client = world.clients[role]
    if method == "GET":
        return client.get(url)
    data = {**fields, "csrf_token": world.token(role)}
    # A browser sends its origin with a form; without a session that is the CSRF check.
    return client.post(url, data=data, headers=ORIGIN)


@pytest.mark.parametrize("role, action", CASES, ids=[f"{a}-{r}" for r, a in CASES])
def test_each_role_gets_what_it_may_do(world, role, action):
    expected = "login" if role == "anonymous" else ACTIONS[action][3][role]
    before = {key: (world.status_of(key), world.revisions_of(key)) for key in world.uids}

    response = request(world, role, action)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/en/login?next=")
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:500]
    after = {key: (world.status_of(key), world.revisions_of(key)) for key in world.uids}
    if expected in (LOGIN, 403, 404):
        assert after == before  # a refused action changes nothing
    if action == "decide on zz" and expected == 302:
        assert after["national_zz"][0] == "changes_requested"
        assert {k: v for k, v in after.items() if k != "national_zz"} == {
            k: v for k, v in before.items() if k != "national_zz"
        }


def test_the_matrix_covers_every_role_and_action():
    for _method, _path, _fields, expected in ACTIONS.values():
        assert set(expected) == set(ROLES) - {"anonymous"}


NOT_THERE = "0" * 32


@pytest.mark.parametrize(
    "role, action",
    [
        ("teacher_zz", "edit someone else's"),
        ("teacher_yy", "see someone else's"),
        ("teacher_zz", "withdraw someone else's"),
        ("editor_yy", "review item of zz"),
        ("editor_yy", "decide on zz"),
        ("admin", "edit someone else's"),
        ("editor_zz", "edit someone else's"),  # 403 for the role, whatever the uid
    ],
)
def test_someone_elses_submission_looks_like_one_that_does_not_exist(world, role, action):
    existing = request(world, role, action)
    missing = request(world, role, action, {"colleague": NOT_THERE, "national_zz": NOT_THERE})

    assert existing.status_code == missing.status_code
    assert existing.status_code in (403, 404)
    # The same page, but for the address itself (in the language links).
    shown = existing.get_data(as_text=True)
    for uid in world.uids.values():
        shown = shown.replace(uid, NOT_THERE)
    assert shown == missing.get_data(as_text=True)


# ---------------------------------------------------------------------------- what each one sees


def test_my_submissions_lists_only_ones_own(world):
    for role, own, others in [
        ("teacher_zz", "own_teacher_zz", ("colleague", "own_teacher_yy")),
        ("teacher_yy", "own_teacher_yy", ("colleague", "own_teacher_zz")),
    ]:
        page = world.clients[role].get("/en/my/submissions").get_data(as_text=True)
        assert world.uids[own] in page
        for other in (*others, "national_zz", "national_yy"):
            assert world.uids[other] not in page
    page = world.clients["admin"].get("/en/my/submissions").get_data(as_text=True)
    assert not any(uid in page for uid in world.uids.values())


def test_a_teacher_writes_for_their_own_country_only(world):
    page = world.clients["teacher_yy"].get("/en/my/submissions/new").get_data(as_text=True)
    assert "YY-MATH-1" in page and "ZZ-MATH-1" not in page
    # A level, subject or competency of another country is not accepted.
    data = {
        "csrf_token": world.token("teacher_yy"), "title": "Titre", "summary": "Résumé",
        "language": "fr", "levels": ["CM1"], "subject": "mathematiques",
        "competencies": ["ZZ-MATH-1"], "licence": "CC-BY-4.0", "markdown": "Texte",
        "action": "save",
    }  # fmt: skip
    response = world.clients["teacher_yy"].post("/en/my/submissions/new", data=data)
    assert response.status_code == 400
    assert 'id="competencies-problem"' in response.get_data(as_text=True)


def test_the_review_queue_shows_only_the_reviewers_country(world):
    zz_title, yy_title = "Reçue de Zedland", "Reçue d&#39;Ygrecland"
    for role, shown, hidden in [
        ("editor_zz", zz_title, yy_title),
        ("editor_yy", yy_title, zz_title),
    ]:
        for query in ("?status=all", "?status=all&country=zz", "?status=all&country=yy"):
            page = world.clients[role].get("/en/review/" + query).get_data(as_text=True)
            assert shown in page, (role, query)
            assert hidden not in page, (role, query)  # ?country= is for admins only
    admin = world.clients["admin"]
    for country, shown, hidden in [("zz", zz_title, yy_title), ("yy", yy_title, zz_title)]:
        page = admin.get(f"/en/review/?status=all&country={country}").get_data(as_text=True)
        assert shown in page and hidden not in page


def test_an_admin_reaches_a_review_queue_from_the_menu(world):
    page = world.clients["admin"].get("/en/").get_data(as_text=True)
    assert 'href="/en/review/"' in page
    response = world.clients["admin"].get("/en/review/")
    assert response.status_code == 200
    assert "Review queue" in response.get_data(as_text=True)


def test_the_queue_filter_keeps_the_admins_country(world):
    page = world.clients["admin"].get("/en/review/?country=yy").get_data(as_text=True)
    form = page[page.index('<form method="get"') :]
    form = form[: form.index("</form>")]
    assert 'name="country" value="yy"' in form


def test_an_editor_of_another_country_cannot_decide_through_the_service(world):
    from imaginecole.review.operations import decide

    with world.app.app_context():
        editor = db.session.scalar(select(User).filter_by(email=ACCOUNTS["editor_yy"][0]))
        teacher = db.session.scalar(select(User).filter_by(email=ACCOUNTS["teacher_zz"][0]))
        submission = db.session.scalar(select(Submission).filter_by(uid=world.uids["national_zz"]))
        scores = dict.fromkeys(
            ("curriculum_fit", "accuracy", "pedagogy", "accessibility", "licence"), 4
        )
        for who in (editor, teacher):
            with pytest.raises(PermissionError):
                decide(submission, who, scores, "reject", "Non.")
        db.session.rollback()
    assert world.status_of("national_zz") in ("received", "changes_requested")
