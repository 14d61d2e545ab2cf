"""Accounts: creation, roles, passwords and login with a brake on password guessing.

Every write here flushes; the request or the command commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.security import check_password_hash, generate_password_hash

from imaginecole.accounts.models import ROLES, LoginFailure, User
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.limits import text_problem

MIN_PASSWORD_LENGTH = 10
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checking a password against this keeps the time of a login for an unknown account the same.
_DUMMY_HASH = generate_password_hash("not a real password")


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


@dataclass
class LoginResult:
    user: User | None = None
    throttled: bool = False


def create_user(
    email: str,
    name: str,
    password: str,
    role: str,
    country_code: str | None = None,
    school: str = "",
) -> User:
    """Create an account; raise AccountError with a plain message for any bad value."""
    email = normalize_email(email)
    if not EMAIL.match(email):
        raise AccountError(f'"{email}" is not an e-mail address')
    _check_texts(email=(User.email, email), name=(User.name, name), school=(User.school, school))
    if db.session.scalar(select(User.id).filter_by(email=email)):
        raise AccountError(f"an account already exists for {email}")
    if not name.strip():
        raise AccountError("a name is required")
    _check_password(password)
    _check_role(role, country_code)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=generate_password_hash(password),
        role=role,
        country_code=country_code or None,
        school=school.strip(),
    )
    db.session.add(user)
    db.session.flush()
    return user


def _check_texts(**fields: tuple[InstrumentedAttribute, str]) -> None:
    for field, (column, value) in fields.items():
        problem = text_problem(column, value.strip())
        if problem:
            raise AccountError(f"the {field} {problem}")


def set_role(email: str, role: str, country_code: str | None = None) -> User:
    user = get_user(email)
    _check_role(role, country_code)
    user.role, user.country_code = role, country_code or None
    user.session_version += 1  # a changed role takes effect at once, not at next login
    db.session.flush()
    return user


def set_disabled(email: str, disabled: bool = True) -> User:
    user = get_user(email)
    user.disabled = disabled
    user.session_version += 1
    db.session.flush()
    return user


def set_password(email: str, password: str) -> User:
    user = get_user(email)
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    db.session.flush()
    return user


def get_user(email: str) -> User:
    user = db.session.scalar(select(User).filter_by(email=normalize_email(email)))
    if user is None:
        raise AccountError(f"no account for {email}")
    return user


def authenticate(
    email: str, password: str, address: str, now: datetime | None = None
) -> LoginResult:
    """Return the user when the password is right and guessing is not under way.

    A failed attempt is recorded (flushed): the caller commits whatever the result, or the
    brake on guessing never engages.
    """
    now = now or datetime.now(UTC)
    email = normalize_email(email)
    since = now - FAILURE_WINDOW
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    by_account = db.session.scalar(
        select(func.count(LoginFailure.id)).where(LoginFailure.email == email)
    )
    by_address = db.session.scalar(
        select(func.count(LoginFailure.id)).where(LoginFailure.address == address)
    )
    if by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
        db.session.flush()
        return LoginResult(throttled=True)
    user = db.session.scalar(select(User).filter_by(email=email))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or user.disabled:
        db.session.add(LoginFailure(email=email, address=address[:64], at=now))
        db.session.flush()
        return LoginResult()
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = now
    db.session.flush()
    return LoginResult(user=user)


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (logout ends them on all devices)."""
    user.session_version += 1
    db.session.flush()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def _check_role(role: str, country_code: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f'unknown role "{role}" (use one of {", ".join(ROLES)})')
    if role != "admin":
        if not country_code:
            article = "an" if role[0] in "aeiou" else "a"
            raise AccountError(f"{article} {role} acts for one country: give its code")
        if db.session.get(Country, country_code) is None:
            raise AccountError(f'country "{country_code}" is not loaded')
