"""Accounts: creation, roles, passwords and login with a brake on password guessing.

The brake cannot be turned against someone else (docs/decisions.md, 8). Failures are counted
per account *from one source*: an address, or a browser this account signed in from before
(a "trusted device", which the login page recognises by a cookie). Two wider brakes stop a
guesser who changes accounts or addresses, and they hold back only browsers that are not
trusted for the account tried: many failures from one address (a school's NAT), and many
failures on one account from everywhere. So strangers' wrong passwords never lock a user out
of the browsers they already use, and teachers behind one address keep signing in.

Every write here flushes; the request or the command commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.security import check_password_hash, generate_password_hash

from imaginecole.accounts.models import ROLES, LoginFailure, PasswordLink, User
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.limits import text_problem

MIN_PASSWORD_LENGTH = 10
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_SOURCE = 5  # one account, from one address or one trusted browser
MAX_FAILURES_PER_ADDRESS = 20  # every account, from one address, browsers not trusted for it
MAX_FAILURES_PER_ACCOUNT = 50  # one account, from everywhere, browsers not trusted for it
# A trusted browser's failures are filed under this prefix and its id instead of an address.
DEVICE_SOURCE = "device:"
DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_DEVICE_TOKENS = 8  # accounts one browser is remembered for (a shared staff-room computer)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_CODE = re.compile(r"^[a-z]{2}$")
PASSWORD_LINK_LIFETIME = timedelta(days=3)  # long enough to reach a teacher, short if it leaks
UNUSABLE_PASSWORD = "!"  # no password checks against it: the account waits for its link
# Checking a password against this keeps the time of a login for an unknown account the same.
_DUMMY_HASH = generate_password_hash("not a real password")


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


class OutOfScope(AccountError):
    """An admin acting on an account of another country or school than the ones they manage."""


class LinkRefused(AccountError):
    """A set-password link that cannot be used; ``reason`` is unknown, used or expired."""

    def __init__(self, reason: str):
        super().__init__(f"the link is {reason}")
        self.reason = reason


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
    email: str,
    password: str,
    address: str,
    now: datetime | None = None,
    device: str | None = None,
) -> LoginResult:
    """Return the user when the password is right and guessing is not under way.

    ``device`` is the id of the browser when it is trusted for this account (see
    ``trusted_device``). A failed attempt is recorded (flushed): the caller commits whatever
    the result, or the brake on guessing never engages.
    """
    now = now or datetime.now(UTC)
    email = normalize_email(email)
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
    source = DEVICE_SOURCE + device if device else address[:64]
    if _throttled(email, source, trusted=device is not None):
        db.session.flush()
        return LoginResult(throttled=True)
    user = db.session.scalar(select(User).filter_by(email=email))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or user.disabled:
        db.session.add(LoginFailure(email=email, address=source, at=now))
        db.session.flush()
        return LoginResult()
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = now
    db.session.flush()
    return LoginResult(user=user)


def _throttled(email: str, source: str, trusted: bool) -> bool:
    def failures(*conditions) -> int:
        return db.session.scalar(select(func.count(LoginFailure.id)).where(*conditions))

    if failures(LoginFailure.email == email, LoginFailure.address == source) >= (
        MAX_FAILURES_PER_SOURCE
    ):
        return True
    if trusted:
        return False
    untrusted = ~LoginFailure.address.startswith(DEVICE_SOURCE)
    return (
        failures(LoginFailure.address == source) >= MAX_FAILURES_PER_ADDRESS
        or failures(LoginFailure.email == email, untrusted) >= MAX_FAILURES_PER_ACCOUNT
    )


def device_token(secret: str, device: str, email: str) -> str:
    """Return what a browser keeps to be trusted for ``email``: its id and a keyed hash.

    The hash names the account only to someone holding ``secret``, so a shared computer's
    cookie does not tell who used it.
    """
    return f"{device}.{_device_mac(secret, device, normalize_email(email))}"


def trusted_device(secret: str, tokens: str, email: str) -> str | None:
    """Return the browser's id when one of its ``tokens`` trusts it for ``email``, else None."""
    email = normalize_email(email)
    for token in tokens.split("~")[:MAX_DEVICE_TOKENS]:
        device, _, mac = token.partition(".")
        if DEVICE_ID.match(device) and hmac.compare_digest(mac, _device_mac(secret, device, email)):
            return device
    return None


def remember_device(secret: str, tokens: str, email: str) -> str:
    """Return the browser's ``tokens`` with one that trusts it for ``email``, newest first."""
    kept = [t for t in tokens.split("~") if DEVICE_ID.match(t.partition(".")[0])]
    device = kept[0].partition(".")[0] if kept else secrets.token_hex(16)
    mine = device_token(secret, device, email)
    others = [t for t in kept if trusted_device(secret, t, email) is None]
    return "~".join([mine, *others][:MAX_DEVICE_TOKENS])


def _device_mac(secret: str, device: str, email: str) -> str:
    message = f"trusted-device\0{device}\0{email}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


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
    if role != "admin" and not country_code:
        article = "an" if role[0] in "aeiou" else "a"
        raise AccountError(f"{article} {role} acts for one country: give its code")
    # An admin with no country acts for every one; with one, for that country only.
    if country_code:
        if not COUNTRY_CODE.match(country_code):
            raise AccountError(f'"{country_code}" is not a two-letter country code, like sn')
        # A teacher may be enrolled before the first bundle brings the country; an editor
        # edits the country's content, which must be here.
        if role == "editor" and db.session.get(Country, country_code) is None:
            raise AccountError(f'country "{country_code}" is not loaded')


# ---------------------------------------------------------------------------- set-password links


def invite_user(
    email: str, name: str, role: str, country_code: str | None, school: str, by: User | None
) -> tuple[User, str]:
    """Create an account with no password; return it and a one-time link's secret for it.

    The person sets their own password with the link: nobody else ever types it. ``by`` is
    the admin asking (None: the server's own command line, which may do anything).
    """
    if by is not None:
        check_scope(by, role, country_code, school)
    user = create_user(email, name, "x" * MIN_PASSWORD_LENGTH, role, country_code, school)
    user.password_hash = UNUSABLE_PASSWORD
    return user, issue_password_link(user, by)


# ---------------------------------------------------------------------------- who manages whom


def within_scope(by: User, role: str, country_code: str | None, school: str) -> bool:
    """Return whether admin ``by`` manages an account of ``role``, ``country_code``, ``school``.

    An admin with no country manages every account. An admin of a country manages the accounts
    of that country, admins of it included, never one of every country. An admin of a school
    (a country and a school) manages that school's teachers.
    """
    if by.role != "admin" or by.disabled:
        return False
    if by.manages_all:
        return True
    if country_code != by.country_code:
        return False
    if by.school:
        return role == "teacher" and school.strip().casefold() == by.school.casefold()
    return True


def may_manage(by: User, user: User) -> bool:
    """Return whether admin ``by`` may change, disable or reset the account ``user``."""
    return within_scope(by, user.role, user.country_code, user.school)


def check_scope(by: User, role: str, country_code: str | None, school: str) -> None:
    if not within_scope(by, role, country_code or None, school):
        raise OutOfScope("this account is outside the countries and schools you manage")


def check_manages(by: User, user: User) -> None:
    if not may_manage(by, user):
        raise OutOfScope("this account is outside the countries and schools you manage")


def issue_password_link(user: User, by: User | None, now: datetime | None = None) -> str:
    """Return the secret of a new set-password link for ``user``; earlier links stop working."""
    now = now or datetime.now(UTC)
    db.session.execute(
        delete(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(
        PasswordLink(
            user_id=user.id,
            token_hash=_link_hash(secret),
            created_by_id=by.id if by is not None else None,
            created_at=now,
            expires_at=now + PASSWORD_LINK_LIFETIME,
        )
    )
    db.session.flush()
    return secret


def link_expiry(user: User) -> datetime:
    """Return when the account's unused set-password link stops working (in UTC)."""
    expires = db.session.scalar(
        select(PasswordLink.expires_at).filter_by(user_id=user.id, used_at=None)
    )
    if expires is None:
        raise AccountError(f"{user.email} has no set-password link waiting")
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)


def reset_password(user: User, by: User | None) -> str:
    """Make the account's password unusable, end its sessions, return a new link's secret."""
    if by is not None:
        check_manages(by, user)
    user.password_hash = UNUSABLE_PASSWORD
    user.session_version += 1
    return issue_password_link(user, by)


def link_user(secret: str, now: datetime | None = None) -> User:
    """Return the account a link is for, or raise LinkRefused (unknown, used or expired)."""
    link = db.session.scalar(select(PasswordLink).filter_by(token_hash=_link_hash(secret)))
    if link is None:
        raise LinkRefused("unknown")
    if link.used_at is not None:
        raise LinkRefused("used")
    expires = link.expires_at
    if expires.tzinfo is None:  # SQLite hands back naive datetimes; they were UTC
        expires = expires.replace(tzinfo=UTC)
    user = db.session.get(User, link.user_id)
    if (now or datetime.now(UTC)) >= expires or user is None or user.disabled:
        raise LinkRefused("expired")
    return user


def use_password_link(secret: str, password: str, now: datetime | None = None) -> User:
    """Set the password of the link's account and spend the link; raise AccountError to refuse."""
    now = now or datetime.now(UTC)
    user = link_user(secret, now)
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    link = db.session.scalar(select(PasswordLink).filter_by(token_hash=_link_hash(secret)))
    link.used_at = now
    db.session.flush()
    return user


def _link_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def list_users(by: User | None = None) -> list[User]:
    """Return the accounts, or only those admin ``by`` manages."""
    users = db.session.scalars(select(User).order_by(User.role, User.email))
    return [user for user in users if by is None or may_manage(by, user)]


def manage(user: User, by: User, *, role: str, country_code: str | None, disabled: bool) -> User:
    """Change an account's role, country and whether it is disabled, as admin ``by`` asks.

    An admin cannot demote or disable their own account: a server must keep one admin able to
    sign in. Both the account and what it becomes must be within what ``by`` manages.
    """
    check_manages(by, user)
    if user.id == by.id and (
        role != "admin" or disabled or (country_code or None) != user.country_code
    ):
        raise AccountError("you cannot take away your own admin role or disable your own account")
    _check_role(role, country_code)
    check_scope(by, role, country_code, user.school)
    if (user.role, user.country_code, user.disabled) != (role, country_code or None, disabled):
        user.role, user.country_code, user.disabled = role, country_code or None, disabled
        user.session_version += 1  # takes effect at once, not at the next login
    db.session.flush()
    return user
