"""Admins manage the accounts of their own country or school only; an admin of every country
(none of their own) manages all. Each refusal is a 403 page in the reader's language, and
nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.extensions import db
from tests.imaginecole.accounts.conftest import ADMIN, EDITOR, FAST_HASH, PASSWORD, TEACHER
from tests.imaginecole.accounts.test_accounts import signed_in
from tests.imaginecole.accounts.test_admin_pages import ACCOUNTS, account, invite, post

ZZ_ADMIN = "chef@education.zz"
SN_ADMIN = "chef@education.sn"
SCHOOL_ADMIN = "directeur@ecole-a.zz"
SN_TEACHER = "binta@ecole-c.sn"
OTHER_SCHOOL_TEACHER = "ali@ecole-b.zz"
REFUSED = "belongs to another country or school than the ones you manage"


@pytest.fixture
def scoped(site):
    """The accounts site with an admin of zz, one of sn, one of zz's École A, and two teachers."""
    with site.app_context():
        for email, role, country, school in (
            (ZZ_ADMIN, "admin", "zz", ""),
            (SN_ADMIN, "admin", "sn", ""),
            (SCHOOL_ADMIN, "admin", "zz", "École A"),
            (SN_TEACHER, "teacher", "sn", "École C"),
            (OTHER_SCHOOL_TEACHER, "teacher", "zz", "École B"),
        ):
            user = create_user(email, email.split("@")[0], PASSWORD, role, country, school)
            user.password_hash = generate_password_hash(PASSWORD, FAST_HASH)
        db.session.commit()
    return site


def state(site, email: str) -> tuple:
    user = account(site, email)
    return user.role, user.country_code, user.disabled, user.password_hash, user.session_version


def emails_listed(client) -> set[str]:
    page = client.get(ACCOUNTS).get_data(as_text=True)
    with_at = {word.strip('<>/"') for word in page.replace(">", " ").split() if "@" in word}
    return {w.split("<")[0] for w in with_at}


def assert_refused(response) -> None:
    assert response.status_code == 403
    assert REFUSED in response.get_data(as_text=True)


def test_an_admin_of_a_country_sees_and_manages_only_its_accounts(scoped):
    admin = signed_in(scoped, ZZ_ADMIN)
    listed = emails_listed(admin)
    assert {TEACHER, EDITOR, ZZ_ADMIN, SCHOOL_ADMIN, OTHER_SCHOOL_TEACHER} <= listed
    assert not listed & {ADMIN, SN_ADMIN, SN_TEACHER}

    # Their own country's accounts: created, re-roled.
    created = invite(admin, email="fanta@ecole-a.zz", country="zz")
    assert created.status_code == 200
    assert account(scoped, "fanta@ecole-a.zz").country_code == "zz"
    teacher = account(scoped, TEACHER)
    moved = post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "editor", "country": "zz"})
    assert moved.status_code == 302 and account(scoped, TEACHER).role == "editor"


def test_an_admin_of_a_country_cannot_touch_another_countrys_accounts(scoped):
    admin = signed_in(scoped, ZZ_ADMIN)
    before = {email: state(scoped, email) for email in (SN_TEACHER, SN_ADMIN, ADMIN, TEACHER)}
    for email in (SN_TEACHER, SN_ADMIN, ADMIN):
        target = account(scoped, email)
        assert_refused(admin.get(f"{ACCOUNTS}/{target.id}"))
        assert_refused(post(admin, f"{ACCOUNTS}/{target.id}", {"role": "teacher", "country": "zz"}))
        assert_refused(post(admin, f"{ACCOUNTS}/{target.id}", {"role": "admin", "disabled": "yes"}))
        assert_refused(post(admin, f"{ACCOUNTS}/{target.id}/reset"))

    # Nor create one, nor move one of theirs out, nor make an admin of every country.
    assert_refused(invite(admin, email="new@ecole-c.sn", country="sn"))
    assert_refused(invite(admin, email="boss@education.zz", role="admin", country=""))
    teacher = account(scoped, TEACHER)
    assert_refused(post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "teacher", "country": "sn"}))
    assert_refused(post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "admin", "country": ""}))

    assert {email: state(scoped, email) for email in before} == before
    with scoped.app_context():
        created = db.session.scalars(
            select(User.email).where(User.email.in_(["new@ecole-c.sn", "boss@education.zz"]))
        )
        assert list(created) == []


def test_a_school_admin_manages_only_the_teachers_of_the_school(scoped):
    admin = signed_in(scoped, SCHOOL_ADMIN)
    assert emails_listed(admin) & {TEACHER, EDITOR, OTHER_SCHOOL_TEACHER, ZZ_ADMIN} == {TEACHER}
    # The form starts with the school's country and name.
    form = admin.get(ACCOUNTS).get_data(as_text=True)
    assert 'name="country" maxlength="2" size="4" dir="ltr" value="zz"' in form
    assert 'value="École A"' in form
    assert '<option value="teacher"' in form and '<option value="editor"' not in form

    assert (
        invite(admin, email="fanta@ecole-a.zz", country="zz", school="École A").status_code == 200
    )
    before = {email: state(scoped, email) for email in (EDITOR, OTHER_SCHOOL_TEACHER, TEACHER)}
    assert_refused(invite(admin, email="x@ecole-b.zz", country="zz", school="École B"))
    assert_refused(
        invite(admin, email="x@education.zz", role="editor", country="zz", school="École A")
    )
    for email in (EDITOR, OTHER_SCHOOL_TEACHER):
        assert_refused(post(admin, f"{ACCOUNTS}/{account(scoped, email).id}/reset"))
    teacher = account(scoped, TEACHER)
    assert_refused(post(admin, f"{ACCOUNTS}/{teacher.id}", {"role": "editor", "country": "zz"}))
    assert {email: state(scoped, email) for email in before} == before
    assert post(admin, f"{ACCOUNTS}/{teacher.id}/reset").status_code == 200


def test_an_admin_of_every_country_manages_all_and_the_refusal_is_translated(scoped):
    admin = signed_in(scoped, ADMIN)
    assert {SN_TEACHER, SN_ADMIN, TEACHER, ZZ_ADMIN} <= emails_listed(admin)
    sn_teacher = account(scoped, SN_TEACHER)
    assert post(admin, f"{ACCOUNTS}/{sn_teacher.id}/reset").status_code == 200

    zz_admin = signed_in(scoped, ZZ_ADMIN)
    for lang, words in (
        ("fr", "ou à une autre école que ceux que vous gérez"),
        ("ar", "لم يتغير شيء"),
    ):
        page = zz_admin.get(f"/{lang}/admin/accounts/{sn_teacher.id}")
        assert page.status_code == 403 and words in page.get_data(as_text=True)


def test_an_admin_cannot_change_their_own_country(scoped):
    admin = signed_in(scoped, ZZ_ADMIN)
    me = account(scoped, ZZ_ADMIN)
    response = post(admin, f"{ACCOUNTS}/{me.id}", {"role": "admin", "country": ""})
    assert response.status_code in (400, 403)
    assert account(scoped, ZZ_ADMIN).country_code == "zz"


def test_an_admin_of_another_country_cannot_curate_or_review_zz(scoped):
    admin = signed_in(scoped, SN_ADMIN)
    assert admin.get("/en/national/zz/modules").status_code == 404
    assert admin.get("/en/national/modules/zz-maths-fractions/edit").status_code == 404
    assert admin.get("/en/national/zz/upload").status_code == 404
    assert admin.get("/en/national/zz/publish").status_code == 404
    assert admin.get("/en/review/?country=zz").status_code == 404
    assert signed_in(scoped, ZZ_ADMIN).get("/en/national/zz/modules").status_code == 200
