"""The ``imaginecole users …`` commands."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from imaginecole.accounts.models import PasswordLink, User
from imaginecole.accounts.operations import get_user
from imaginecole.extensions import db
from tests.imaginecole.accounts.conftest import ADMIN, EDITOR, ORIGIN, PASSWORD, TEACHER
from tests.imaginecole.accounts.test_accounts import (
    is_signed_in,
    login,
    session_cookie,
    signed_in,
    user_row,
    users,
)


def test_users_create_prints_a_one_time_link_and_nobody_types_a_password(site):
    result = users(
        site, "create", "--email", " Fatou@Ecole-B.zz ", "--name", "Fatou Sow",
        "--role", "teacher", "--country", "zz", "--school", "École B",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Created teacher fatou@ecole-b.zz for zz" in result.output
    assert "Give this link to Fatou Sow, and to nobody else. It works once, until " in result.output
    [path] = re.findall(r"^  (/fr/password/\S+)$", result.output, re.MULTILINE)
    assert "set IMAGINECOLE_PUBLIC_URL" in result.output
    user = user_row(site, "fatou@ecole-b.zz")
    assert (user.role, user.country_code, user.school) == ("teacher", "zz", "École B")
    with site.app_context():
        [link] = db.session.scalars(select(PasswordLink).filter_by(user_id=user.id))
        expires = (
            link.expires_at.replace(tzinfo=UTC) if not link.expires_at.tzinfo else link.expires_at
        )
    assert f"until {expires:%Y-%m-%d %H:%M} UTC" in result.output
    assert login(site.test_client(), "fatou@ecole-b.zz").status_code == 400  # no password yet

    visitor = site.test_client()
    assert visitor.get(path).status_code == 200
    done = visitor.post(path, data={"password": PASSWORD, "again": PASSWORD}, headers=ORIGIN)
    assert done.status_code == 302
    assert login(site.test_client(), "FATOU@ecole-b.zz").status_code == 302
    assert visitor.get(path).status_code == 410  # once only


def test_the_link_is_written_in_full_on_the_public_address(site):
    site.config["PUBLIC_URL"] = "https://ecole-a.example/"
    result = users(site, "create", "--email", "a2@x.zz", "--name", "A", "--role", "admin")
    assert result.exit_code == 0, result.output
    assert re.search(r"^  https://ecole-a\.example/fr/password/\S+$", result.output, re.MULTILINE)
    assert user_row(site, "a2@x.zz").country_code is None  # an admin needs no country

    reset = users(site, "reset", "a2@x.zz")
    assert reset.exit_code == 0 and "https://ecole-a.example/fr/password/" in reset.output
    assert users(site, "reset", "nobody@x.zz").output.strip().endswith("no account for nobody@x.zz")


def test_password_stdin_stores_a_hashed_password_for_scripts(site):
    result = users(
        site, "create", "--email", "f@ecole-b.zz", "--name", "F", "--role", "teacher",
        "--country", "zz", "--password-stdin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and "/password/" not in result.output
    user = user_row(site, "f@ecole-b.zz")
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert check_password_hash(user.password_hash, PASSWORD)
    # Two accounts with the same password do not share a hash (each has its own salt).
    assert user.password_hash != user_row(site, TEACHER).password_hash
    assert login(site.test_client(), "f@ecole-b.zz").status_code == 302
    # A password never goes in the arguments, where other users of the machine read it.
    typed = users(site, "create", "--email", "g@x.zz", "--name", "G", "--role", "admin",
                  "--password", PASSWORD)  # fmt: skip
    assert typed.exit_code != 0 and "No such option" in typed.output


def test_an_admin_of_one_country_or_school_is_made_by_command(site):
    result = users(
        site, "create", "--email", "d@ecole-a.zz", "--name", "D", "--role", "admin",
        "--country", "zz", "--school", "École A",
    )  # fmt: skip
    assert result.exit_code == 0 and "Created admin d@ecole-a.zz for zz" in result.output
    user = user_row(site, "d@ecole-a.zz")
    assert (user.country_code, user.school) == ("zz", "École A")


CREATE_REFUSALS = {
    "bad e-mail": (["--email", "not-an-address", "--role", "teacher", "--country", "zz"],
                   PASSWORD, "is not an e-mail address"),
    "short password": (["--email", "x@y.zz", "--role", "teacher", "--country", "zz"],
                       "short", "at least 10 characters"),
    "editor without a country": (["--email", "x@y.zz", "--role", "editor"],
                                 PASSWORD, "an editor acts for one country"),
    "teacher without a country": (["--email", "x@y.zz", "--role", "teacher"],
                                  PASSWORD, "a teacher acts for one country"),
    "unknown country": (["--email", "x@y.zz", "--role", "editor", "--country", "qq"],
                        PASSWORD, 'country "qq" is not loaded'),
    "existing account": (["--email", TEACHER.upper(), "--role", "teacher", "--country", "zz"],
                         PASSWORD, "an account already exists"),
    "blank name": (["--email", "x@y.zz", "--role", "teacher", "--country", "zz", "--name", " "],
                   PASSWORD, "a name is required"),
    "unknown role": (["--email", "x@y.zz", "--role", "pupil"], PASSWORD, "pupil"),
    "long name": (["--email", "x@y.zz", "--role", "teacher", "--country", "zz", "--name", "N" * 300],
                  PASSWORD, "the name is 300 characters long; at most 200 fit"),
    "long school": (["--email", "x@y.zz", "--role", "teacher", "--country", "zz", "--school", "S" * 201],
                    PASSWORD, "the school is 201 characters long; at most 200 fit"),
    "NUL in the name": (["--email", "x@y.zz", "--role", "teacher", "--country", "zz", "--name", "A\x00B"],
                        PASSWORD, "the name contains a NUL character"),
}  # fmt: skip


@pytest.mark.parametrize("case", CREATE_REFUSALS, ids=list(CREATE_REFUSALS))
def test_users_create_refuses_bad_values_with_a_clear_message(site, case):
    options, password, message = CREATE_REFUSALS[case]
    if "--name" not in options:
        options = [*options, "--name", "Someone"]
    with site.app_context():
        before = db.session.scalar(select(func.count(User.id)))

    result = users(site, "create", *options, "--password-stdin", input=f"{password}\n")

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert "scrypt:" not in result.output and "pbkdf2:" not in result.output  # no password hash
    with site.app_context():
        assert db.session.scalar(select(func.count(User.id))) == before


def test_set_role_changes_role_and_country_and_ends_open_sessions(site):
    client = signed_in(site, TEACHER)
    assert is_signed_in(client)

    result = users(site, "set-role", TEACHER, "editor", "--country", "zz")

    assert result.exit_code == 0, result.output
    assert f"{TEACHER} is now editor for zz" in result.output
    user = user_row(site, TEACHER)
    assert (user.role, user.country_code) == ("editor", "zz")
    # The session opened as a teacher is over: the new role applies from the next login.
    response = client.get("/en/review/")
    assert response.status_code == 302 and "/en/login" in response.headers["Location"]
    client = signed_in(site, TEACHER)
    assert client.get("/en/review/").status_code == 200
    assert client.get("/en/my/submissions").status_code == 403


@pytest.mark.parametrize(
    "args, message",
    [
        (["set-role", "nobody@x.zz", "teacher", "--country", "zz"], "no account for nobody@x.zz"),
        (["set-role", TEACHER, "editor"], "an editor acts for one country"),
        (["set-role", TEACHER, "editor", "--country", "qq"], 'country "qq" is not loaded'),
        (["set-role", TEACHER, "teacher", "--country", "q1"], "not a two-letter country code"),
        (["set-role", TEACHER, "pupil"], "pupil"),
        (["disable", "nobody@x.zz"], "no account for nobody@x.zz"),
    ],
)
def test_set_role_and_disable_refuse_with_a_message(site, args, message):
    result = users(site, *args)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    user = user_row(site, TEACHER)
    assert (user.role, user.country_code, user.disabled) == ("teacher", "zz", False)


def test_a_disabled_account_cannot_sign_in_and_its_open_session_ends(site):
    client = signed_in(site, TEACHER)

    result = users(site, "disable", TEACHER)

    assert result.exit_code == 0 and f"{TEACHER} is disabled" in result.output
    assert not is_signed_in(client)
    response = login(site.test_client(), TEACHER)
    assert response.status_code == 400
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    assert session_cookie(site.test_client()) is None

    assert users(site, "disable", TEACHER, "--enable").exit_code == 0
    assert login(site.test_client(), TEACHER).status_code == 302


def test_users_list_shows_role_and_country(site):
    users(site, "disable", EDITOR)
    result = users(site, "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert f"{TEACHER}\tteacher\tzz\tAwa Diop" in lines
    assert f"{EDITOR}\teditor\tzz\tMoussa Ba (disabled)" in lines
    assert f"{ADMIN}\tadmin\t*\tAdmin" in lines


def test_a_teacher_is_enrolled_before_the_first_bundle_brings_the_country(site):
    result = users(site, "set-role", TEACHER, "teacher", "--country", "sn")

    assert result.exit_code == 0, result.output
    with site.app_context():
        assert get_user(TEACHER).country_code == "sn"
