"""Accounts: login and logout, sessions, the brake on guessing, CSRF.

Pupils never sign in and never get a cookie; teachers, editors and admins do, and every form
they post carries the session's token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imaginecole.accounts.models import LoginFailure, User
from imaginecole.accounts.operations import (
    FAILURE_WINDOW,
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_SOURCE,
    authenticate,
    create_user,
    set_disabled,
    set_role,
    trusted_device,
)
from imaginecole.accounts.views import DEVICE_COOKIE
from imaginecole.extensions import db
from tests.imaginecole.accounts.conftest import ADMIN, EDITOR, ORIGIN, PASSWORD, TEACHER


def users(app, *args: str, **kwargs):
    return app.test_cli_runner().invoke(args=["users", *args], **kwargs)


def login(client, email: str, password: str = PASSWORD, *, headers=ORIGIN, **kwargs):
    return client.post(
        "/en/login", data={"email": email, "password": password}, headers=headers, **kwargs
    )


def signed_in(app, email: str):
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def token(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def is_signed_in(client) -> bool:
    """Whether the client's session still opens a page that needs an account."""
    response = client.get("/en/my/submissions")
    return response.status_code == 200


def user_row(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email=email))
        db.session.expunge(user)
        return user


def test_account_changes_leave_the_commit_to_the_caller(site):
    with site.app_context():
        create_user("fatou@ecole-b.zz", "Fatou Sow", PASSWORD, "teacher", "zz")
        set_role(TEACHER, "editor", "zz")
        set_disabled(EDITOR)
        assert db.session.scalar(select(User.id).filter_by(email="fatou@ecole-b.zz"))
        db.session.rollback()

    with site.app_context():
        assert db.session.scalar(select(User.id).filter_by(email="fatou@ecole-b.zz")) is None
    assert user_row(site, TEACHER).role == "teacher"
    assert not user_row(site, EDITOR).disabled


# ---------------------------------------------------------------------------- sessions


def test_login_redirects_home_and_renews_the_session(site):
    client = site.test_client()
    response = login(client, TEACHER)
    assert response.status_code == 302
    assert response.headers["Location"] == "/en/"
    first, first_token = session_cookie(client), token(client)
    assert first
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie  # no script, no cross-site post
    lifetime = client.get_cookie("session").expires - datetime.now(UTC)
    assert timedelta(hours=11) < lifetime <= timedelta(hours=12)  # a school day, not a month

    # Signing in again on the same browser (another teacher at a shared computer), with the
    # form as the page shows it.
    page = client.get("/en/login").get_data(as_text=True)
    assert f'name="csrf_token" value="{first_token}"' in page
    response = client.post(
        "/en/login", data={"email": EDITOR, "password": PASSWORD, "csrf_token": first_token}
    )

    assert response.status_code == 302
    assert session_cookie(client) not in (None, first)
    assert token(client) != first_token
    assert client.get("/en/review/").status_code == 200  # now the editor


def test_a_session_cookie_planted_before_login_is_not_kept(site):
    serializer = site.session_interface.get_signing_serializer(site)
    planted = serializer.dumps({"csrf": "known-to-the-attacker", "planted": True})
    client = site.test_client()
    client.set_cookie("session", planted)

    assert login(client, TEACHER).status_code == 302

    value = session_cookie(client)
    assert value != planted
    session = serializer.loads(value)
    assert "planted" not in session
    assert session["csrf"] != "known-to-the-attacker"
    assert session["user_id"] == user_row(site, TEACHER).id


def test_logout_ends_the_session_on_every_device(site):
    laptop, phone = signed_in(site, TEACHER), signed_in(site, TEACHER)
    stolen = session_cookie(laptop)
    assert is_signed_in(laptop) and is_signed_in(phone)

    response = laptop.post("/en/logout", data={"csrf_token": token(laptop)})

    assert response.status_code == 302 and response.headers["Location"] == "/en/"
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    replay = site.test_client()
    replay.set_cookie("session", stolen)
    assert not is_signed_in(replay)
    # Signing in again works, and the new session is independent of the old ones.
    assert is_signed_in(signed_in(site, TEACHER))


def test_logout_needs_a_session(site):
    response = site.test_client().post("/en/logout", headers=ORIGIN)
    assert response.status_code == 302 and "/en/login" in response.headers["Location"]


def test_a_wrong_password_says_so_without_telling_which_part_was_wrong(site):
    client = site.test_client()
    wrong = login(client, TEACHER, "not the password")
    unknown = login(client, "nobody@ecole-a.zz", "not the password")

    for response in (wrong, unknown):
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "Wrong e-mail address or password." in page
        assert "not the password" not in page
    assert 'value="nobody@ecole-a.zz"' in unknown.get_data(as_text=True)  # kept, for retyping
    assert session_cookie(client) is None


# ---------------------------------------------------------------------------- rate limiting


def failures(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(LoginFailure.id)))


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_five_wrong_passwords_lock_the_account_from_that_address_only(site):
    client = site.test_client()
    for _ in range(MAX_FAILURES_PER_SOURCE):
        assert login(client, TEACHER, "guess-guess-guess").status_code == 400

    response = login(client, TEACHER)

    assert response.status_code == 429
    assert "Wait 15 minutes" in response.get_data(as_text=True)
    assert session_cookie(client) is None
    # A stranger's wrong passwords cannot lock the teacher out: from another address she
    # signs in at once.
    assert login(site.test_client(), TEACHER, **at("10.9.9.9")).status_code == 302
    # Other accounts are not affected either.
    assert login(site.test_client(), EDITOR).status_code == 302


def test_twenty_failures_from_one_address_block_it_across_accounts(site):
    address = at("10.1.2.3")
    client = site.test_client()
    for number in range(MAX_FAILURES_PER_ADDRESS):
        response = login(client, f"guess{number}@ecole-a.zz", "guess", **address)
        assert response.status_code == 400

    assert login(client, TEACHER, **address).status_code == 429
    assert login(client, EDITOR, **address).status_code == 429
    # Another address still signs in.
    assert login(site.test_client(), TEACHER, **at("10.1.2.4")).status_code == 302


def trusted_browser(site, email: str, address: str):
    """A browser that has signed in as ``email`` before, and signed out since."""
    client = site.test_client()
    assert login(client, email, **at(address)).status_code == 302
    client.delete_cookie("session")
    assert client.get_cookie(DEVICE_COOKIE) is not None
    return client


def test_teachers_behind_one_address_keep_signing_in_when_it_is_blocked(site):
    school = "10.1.2.3"  # one public address for the whole school (NAT)
    teacher = trusted_browser(site, TEACHER, school)
    # Someone behind the same address makes up e-mails, and tries the teacher's too.
    pupil = site.test_client()
    for number in range(MAX_FAILURES_PER_ADDRESS):
        login(pupil, f"guess{number}@ecole-a.zz", "guess", **at(school))
    for _ in range(MAX_FAILURES_PER_SOURCE):
        login(pupil, TEACHER, "guess", **at(school))
    assert login(pupil, TEACHER, **at(school)).status_code == 429
    assert login(pupil, EDITOR, **at(school)).status_code == 429

    # The browser the teacher signs in with is not held back by others' failures.
    assert login(teacher, TEACHER, **at(school)).status_code == 302
    # It is trusted for her account only.
    teacher.delete_cookie("session")
    assert login(teacher, EDITOR, **at(school)).status_code == 429


def test_a_trusted_browser_still_gets_only_five_guesses(site):
    stolen = trusted_browser(site, TEACHER, "10.1.2.3")
    for _ in range(MAX_FAILURES_PER_SOURCE):
        assert login(stolen, TEACHER, "guess-guess-guess", **at("10.7.7.7")).status_code == 400

    assert login(stolen, TEACHER, **at("10.7.7.7")).status_code == 429
    # Those failures were filed under that browser: the address is not blocked for others.
    assert login(site.test_client(), TEACHER, **at("10.7.7.7")).status_code == 302


def test_guessing_one_account_from_many_addresses_stops_at_the_account_limit(site):
    owner = trusted_browser(site, TEACHER, "10.0.0.1")
    for number in range(MAX_FAILURES_PER_ACCOUNT):
        address = f"10.66.{number // 4}.{number % 4}"  # never five from one address
        assert login(site.test_client(), TEACHER, "guess", **at(address)).status_code == 400

    # A new browser, from an address that never failed, is held back ...
    assert login(site.test_client(), TEACHER, **at("10.0.0.2")).status_code == 429
    # ... but not the browser the teacher already signs in with.
    assert login(owner, TEACHER, **at("10.0.0.1")).status_code == 302


def test_the_trusted_browser_cookie_does_not_name_the_account(site):
    client = trusted_browser(site, TEACHER, "10.1.2.3")
    cookie = client.get_cookie(DEVICE_COOKIE)

    assert "ecole" not in cookie.value and "@" not in cookie.value
    assert cookie.http_only and cookie.same_site == "Lax"
    with site.app_context():
        secret = site.config["SECRET_KEY"]
        assert trusted_device(secret, cookie.value, TEACHER) is not None
        assert trusted_device(secret, cookie.value, EDITOR) is None
        assert trusted_device("another server", cookie.value, TEACHER) is None
    # Signing in as another account keeps both, in one browser id.
    assert login(client, EDITOR, **at("10.1.2.3")).status_code == 302
    both = client.get_cookie(DEVICE_COOKIE).value
    assert trusted_device(secret, both, TEACHER) == trusted_device(secret, both, EDITOR)


def test_a_failed_login_sets_no_cookie(site):
    client = site.test_client()
    login(client, TEACHER, "guess-guess-guess")
    assert client.get_cookie(DEVICE_COOKIE) is None and session_cookie(client) is None


def test_a_successful_login_clears_the_account_failures(site):
    client = site.test_client()
    for _ in range(MAX_FAILURES_PER_SOURCE - 1):
        login(client, TEACHER, "guess-guess-guess")
    assert login(site.test_client(), TEACHER).status_code == 302
    assert failures(site) == 0

    for _ in range(MAX_FAILURES_PER_SOURCE - 1):
        assert login(client, TEACHER, "guess-guess-guess").status_code == 400
    assert login(site.test_client(), TEACHER).status_code == 302


def test_failures_expire_after_the_window(site):
    start = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    with site.app_context():
        for _ in range(MAX_FAILURES_PER_SOURCE):
            assert authenticate(TEACHER, "guess", "10.0.0.1", now=start).user is None
        assert authenticate(TEACHER, PASSWORD, "10.0.0.1", now=start).throttled
        later = start + FAILURE_WINDOW - timedelta(seconds=1)
        assert authenticate(TEACHER, PASSWORD, "10.0.0.1", now=later).throttled
        after = start + FAILURE_WINDOW + timedelta(seconds=1)
        result = authenticate(TEACHER, PASSWORD, "10.0.0.1", now=after)
        assert result.user is not None and not result.throttled


def test_a_disabled_account_counts_as_a_failure(site):
    users(site, "disable", TEACHER)
    login(site.test_client(), TEACHER)
    assert failures(site) == 1


# ---------------------------------------------------------------------------- anonymous readers


ANONYMOUS_PAGES = [
    "/",
    "/fr/",
    "/en/",
    "/ar/",
    "/fr/zz/",
    "/fr/zz/cm1/",
    "/fr/zz/cm1/mathematiques/",
    "/fr/modules/zz-maths-fractions/",
    "/fr/modules/zz-maths-fractions/lire-une-fraction",
    "/ar/modules/zz-maths-fractions/lire-une-fraction",
    "/fr/modules/zz-maths-fractions/download.zip",
    "/fr/search?q=fraction",
    "/api/v1/search?q=fraction",
    "/fr/no-such-page",
    "/fr/login",
    "/en/login?next=/en/my/submissions",
]


def test_anonymous_pages_set_no_cookie(site):
    client = site.test_client()
    for url in ANONYMOUS_PAGES:
        response = client.get(url)
        assert response.status_code in (200, 302, 404), url
        assert "Set-Cookie" not in response.headers, url
    assert client.get("/fr/modules/zz-maths-fractions/").status_code == 200
    # A failed login does not start a session either.
    assert "Set-Cookie" not in login(client, TEACHER, "wrong-password").headers
    assert session_cookie(client) is None


def test_pages_for_accounts_send_anonymous_readers_to_the_login_page(site):
    client = site.test_client()
    for url in ("/en/my/submissions", "/en/my/submissions/new", "/en/review/", "/en/admin/bundles"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/en/login?next="), url
        assert "Set-Cookie" not in response.headers


# ---------------------------------------------------------------------------- forgery


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "null"},
    ],
    ids=["none", "other-origin", "other-referer", "lookalike", "null"],
)
def test_login_from_another_site_or_without_origin_is_refused(site, headers):
    client = site.test_client()
    response = login(client, TEACHER, headers=headers)

    assert response.status_code == 403
    assert session_cookie(client) is None
    assert failures(site) == 0  # refused before the password is even looked at


def test_login_with_a_same_origin_referer_is_accepted(site):
    client = site.test_client()
    response = login(client, TEACHER, headers={"Referer": "http://localhost/en/login"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/en/",
        "https://evil.example",
        "http://localhost@evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_only_leads_to_a_page_of_this_site(site, target):
    response = site.test_client().post(
        "/en/login",
        query_string={"next": target},
        data={"email": TEACHER, "password": PASSWORD},
        headers=ORIGIN,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/en/"


def test_next_leads_back_to_the_page_asked_for(site):
    client = site.test_client()
    response = client.get("/en/my/submissions/new")
    target = response.headers["Location"]
    response = client.post(target, data={"email": TEACHER, "password": PASSWORD}, headers=ORIGIN)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/en/my/submissions/new", "/en/my/submissions/new?")
    assert client.get(response.headers["Location"]).status_code == 200


# Every form a signed-in user can post: (who, path, form fields besides the token).
POST_FORMS = [
    ("teacher", "/en/logout", {}),
    ("teacher", "/en/my/submissions/new", {"title": "T", "action": "save"}),
    ("teacher", "/en/my/submissions/{uid}/edit", {"title": "T", "action": "save"}),
    ("teacher", "/en/my/submissions/{uid}/withdraw", {}),
    ("editor", "/en/review/packages", {}),
    ("editor", "/en/review/{uid}", {"decision": "reject", "comment": "No"}),
    ("admin", "/en/admin/outbox", {"country": "zz"}),
    ("admin", "/en/admin/bundles/import", {"path": "/nowhere.icb"}),
    ("admin", "/en/admin/bundles/remove", {"country": "zz", "channel": "main"}),
]
WHO = {"teacher": TEACHER, "editor": EDITOR, "admin": ADMIN}
WHO_NAME = {"teacher": "Awa Diop", "editor": "Moussa Ba", "admin": "Admin"}


def current_user_name(client) -> str | None:
    """The name the page header shows for the signed-in user, if any."""
    page = client.get("/en/").get_data(as_text=True)
    match = re.search(r'<form class="account"[^>]*>\s*<span>([^<]*)</span>', page)
    return match.group(1) if match else None


def a_draft(app) -> str:
    from imaginecole.submissions.operations import SubmissionForm, create_submission

    with app.app_context():
        teacher = db.session.scalar(select(User).filter_by(email=TEACHER))
        form = SubmissionForm(
            title="Les fractions",
            summary="Partager une pizza.",
            levels=["CM1"],
            subject="mathematiques",
            licence="CC-BY-4.0",
            markdown="Un demi.",
        )
        uid = create_submission(teacher, form).uid
        db.session.commit()
        return uid


def statuses(app) -> list[str]:
    from imaginecole.submissions.models import Submission

    with app.app_context():
        return list(db.session.scalars(select(Submission.status).order_by(Submission.id)))


@pytest.mark.parametrize("who, path, fields", POST_FORMS, ids=[p for _, p, _ in POST_FORMS])
@pytest.mark.parametrize("sent", ["no token", "wrong token", "other origin"])
def test_every_form_refuses_a_post_without_the_session_token(site, who, path, fields, sent):
    uid = a_draft(site)
    client = signed_in(site, WHO[who])
    data, headers = dict(fields), dict(ORIGIN)
    if sent == "wrong token":
        data["csrf_token"] = "x" * 43
    elif sent == "other origin":
        data["csrf_token"] = token(client)
        headers = {"Origin": "https://evil.example"}
    before = (statuses(site), failures(site))

    response = client.post(path.format(uid=uid), data=data, headers=headers)

    assert response.status_code == 403
    assert (statuses(site), failures(site)) == before
    # Still signed in: a refused logout did not log out.
    assert current_user_name(client) == WHO_NAME[who]


@pytest.mark.parametrize("who, path, fields", POST_FORMS, ids=[p for _, p, _ in POST_FORMS])
def test_the_same_forms_pass_the_check_with_the_token(site, who, path, fields):
    uid = a_draft(site)
    client = signed_in(site, WHO[who])

    response = client.post(path.format(uid=uid), data={**fields, "csrf_token": token(client)})

    assert response.status_code != 403


def test_the_token_may_come_in_a_header(site):
    uid = a_draft(site)
    client = signed_in(site, TEACHER)
    response = client.post(
        f"/en/my/submissions/{uid}/withdraw", headers={"X-CSRF-Token": token(client)}
    )
    assert response.status_code == 302
    assert statuses(site) == ["withdrawn"]


def test_one_users_token_does_not_work_for_another(site):
    uid = a_draft(site)
    editor = signed_in(site, EDITOR)
    teacher = signed_in(site, TEACHER)
    response = teacher.post(
        f"/en/my/submissions/{uid}/withdraw", data={"csrf_token": token(editor)}
    )
    assert response.status_code == 403
    assert statuses(site) == ["draft"]


# ---------------------------------------------------------------------------- GET changes nothing


@pytest.mark.parametrize(
    "who, path",
    [
        ("teacher", "/en/logout"),
        ("teacher", "/en/my/submissions/{uid}/withdraw"),
        ("admin", "/en/admin/bundles/import"),
        ("admin", "/en/admin/bundles/remove"),
    ],
)
def test_get_on_an_action_is_not_allowed_and_changes_nothing(site, who, path):
    uid = a_draft(site)
    client = signed_in(site, WHO[who])

    response = client.get(path.format(uid=uid))

    assert response.status_code == 405
    assert statuses(site) == ["draft"]
    assert current_user_name(client) == WHO_NAME[who]


def test_get_on_pages_with_forms_only_shows_them(site):
    from imaginecole.submissions.models import Revision

    uid = a_draft(site)
    teacher = signed_in(site, TEACHER)
    admin = signed_in(site, ADMIN)
    before = statuses(site)
    for client, path in [
        (teacher, "/en/my/submissions/new?title=x&action=submit"),
        (teacher, f"/en/my/submissions/{uid}/edit?title=y&action=submit"),
        (admin, "/en/admin/outbox?country=zz"),
        (admin, "/en/review/packages"),
    ]:
        assert client.get(path).status_code == 200, path
    assert statuses(site) == before
    with site.app_context():
        assert db.session.scalar(select(func.count(Revision.id))) == 1
    assert not (Path(site.config["DATA_DIR"]) / "outbox").exists()
