"""Accounts managed in the browser: admins create, disable, reset and change roles; people set
their own password with a one-time link (expiring, single-use, kept only as a hash)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from imaginecole.accounts.models import PasswordLink, User
from imaginecole.accounts.operations import PASSWORD_LINK_LIFETIME, use_password_link
from imaginecole.extensions import db
from tests.imaginecole.accounts.conftest import ADMIN, EDITOR, ORIGIN, PASSWORD, TEACHER
from tests.imaginecole.accounts.test_accounts import login, signed_in, token

ACCOUNTS = "/en/admin/accounts"
NEW_PASSWORD = "a long new password"


def post(client, url: str, data: dict | None = None):
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, headers=ORIGIN)


def invite(admin, **fields):
    data = {"name": "Fatou Sall", "email": "fatou@ecole-b.sn", "role": "teacher"}
    return post(admin, ACCOUNTS, data | {"country": "sn", "school": "École B"} | fields)


def link_in(response) -> str:
    [link] = re.findall(r'id="link" readonly value="http://localhost(/en/password/[^"]+)"',
                        response.get_data(as_text=True))  # fmt: skip
    return link


def account(site, email: str) -> User:
    with site.app_context():
        user = db.session.scalar(select(User).filter_by(email=email))
        db.session.expunge(user)
        return user


def set_password(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):
    # No session yet: as at login, the browser's Origin says the form is this site's.
    return client.post(
        link, data={"password": password, "again": again or password}, headers=ORIGIN
    )


def test_a_teacher_is_enrolled_before_the_country_arrives_and_sets_their_own_password(site):
    admin = signed_in(site, ADMIN)
    response = invite(admin)  # sn: no bundle of it installed here yet
    assert response.status_code == 200, response.get_data(as_text=True)
    link = link_in(response)
    assert "It works once, for 3 days" in response.get_data(as_text=True)
    teacher = account(site, "fatou@ecole-b.sn")
    assert (teacher.role, teacher.country_code, teacher.school) == ("teacher", "sn", "École B")

    # The link's secret is nowhere on the server: only its hash.
    secret = link.rsplit("/", 1)[1]
    with site.app_context():
        [row] = db.session.scalars(select(PasswordLink))
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (
        login(site.test_client(), "fatou@ecole-b.sn", "x" * 10).status_code == 400
    )  # no password yet

    visitor = site.test_client()
    assert "Account of Fatou Sall" in visitor.get(link).get_data(as_text=True)
    assert visitor.get(link).headers["Referrer-Policy"] == "no-referrer"
    differ = set_password(visitor, link, again="another password!")
    assert differ.status_code == 400 and "The two passwords differ" in differ.get_data(as_text=True)
    short = set_password(visitor, link, "short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    done = set_password(visitor, link)
    assert done.status_code == 302 and done.headers["Location"].endswith("/en/login")
    assert login(site.test_client(), "fatou@ecole-b.sn", NEW_PASSWORD).status_code == 302

    # Once only.
    again = site.test_client().get(link)
    assert again.status_code == 410
    assert "This link was used already" in again.get_data(as_text=True)


def test_an_expired_or_unknown_link_is_refused(site):
    admin = signed_in(site, ADMIN)
    link = link_in(invite(admin))
    later = datetime.now(UTC) + PASSWORD_LINK_LIFETIME + timedelta(minutes=1)
    with site.app_context():
        with pytest.raises(Exception, match="expired"):
            use_password_link(link.rsplit("/", 1)[1], NEW_PASSWORD, now=later)
        db.session.query(PasswordLink).update({PasswordLink.expires_at: datetime.now(UTC)})
        db.session.commit()
    expired = site.test_client().get(link)
    assert expired.status_code == 410 and "has expired" in expired.get_data(as_text=True)
    unknown = site.test_client().get("/en/password/not-a-real-link")
    assert unknown.status_code == 404 and "This link is not valid" in unknown.get_data(as_text=True)


def test_a_reset_ends_the_old_password_and_sessions_and_the_newest_link_alone_works(site):
    admin = signed_in(site, ADMIN)
    teacher_browser = signed_in(site, TEACHER)
    teacher = account(site, TEACHER)
    first = link_in(post(admin, f"{ACCOUNTS}/{teacher.id}/reset"))
    second = link_in(post(admin, f"{ACCOUNTS}/{teacher.id}/reset"))
    assert teacher_browser.get("/en/my/submissions").status_code in (302, 401)  # signed out
    assert login(site.test_client(), TEACHER, PASSWORD).status_code == 400  # refused
    assert site.test_client().get(first).status_code == 404  # replaced by the second
    assert set_password(site.test_client(), second).status_code == 302
    assert login(site.test_client(), TEACHER, NEW_PASSWORD).status_code == 302


def test_admins_change_roles_and_disable_but_not_their_own(site):
    admin = signed_in(site, ADMIN)
    teacher, me = account(site, TEACHER), account(site, ADMIN)
    response = post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "editor", "country": "zz"})
    assert response.status_code == 302
    assert account(site, TEACHER).role == "editor"
    refused = post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "editor", "country": "sn"})
    assert refused.status_code == 400
    assert "country must be loaded on this server first" in refused.get_data(as_text=True)

    post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "teacher", "country": "zz", "disabled": "yes"})
    assert account(site, TEACHER).disabled
    assert login(site.test_client(), TEACHER, PASSWORD).status_code == 400  # refused
    page = admin.get(ACCOUNTS).get_data(as_text=True)
    assert "disabled" in page

    for change in ({"role": "teacher", "country": "zz"}, {"role": "admin", "disabled": "yes"}):
        own = post(admin, f"{ACCOUNTS}/{me.id}", change)
        assert own.status_code == 400
        assert "You cannot take away your own admin role" in own.get_data(as_text=True)
    assert account(site, ADMIN).role == "admin" and not account(site, ADMIN).disabled


def test_bad_values_are_refused_in_the_readers_language(site):
    admin = signed_in(site, ADMIN)
    duplicate = invite(admin, email=TEACHER)
    assert duplicate.status_code == 400
    assert "An account already exists" in duplicate.get_data(as_text=True)
    assert "Fatou Sall" in duplicate.get_data(as_text=True)  # the form keeps what was typed
    french = post(admin, "/fr/admin/accounts", {"name": "X", "email": "x@y.sn", "role": "teacher",
                                                 "country": "senegal"})  # fmt: skip
    assert "code à deux lettres" in french.get_data(as_text=True)
    with site.app_context():
        assert db.session.scalar(select(User).filter_by(email="x@y.sn")) is None


@pytest.mark.parametrize("who", [TEACHER, EDITOR])
def test_only_admins_manage_accounts(site, who):
    client = signed_in(site, who)
    teacher = account(site, TEACHER)
    assert client.get(ACCOUNTS).status_code == 403
    assert invite(client).status_code == 403
    assert post(client, f"{ACCOUNTS}/{teacher.id}/reset").status_code == 403
    assert post(client, f"{ACCOUNTS}/{teacher.id}", {"role": "admin"}).status_code == 403
    assert account(site, TEACHER).role == "teacher"
    assert site.test_client().get(ACCOUNTS).status_code in (302, 401)
