"""Who is signed in, what they may do, and protection of every form against forgery.

Pupils never sign in: a session cookie exists only after a teacher or editor logs in.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for

from imaginecole.accounts.models import User
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def current_user() -> User | None:
    return g.get("user")


def start_session(user: User) -> None:
    """Begin a fresh session for ``user`` (a new cookie, so a planted one is worthless)."""
    session.clear()
    session["user_id"] = user.id
    session["version"] = user.session_version
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("accounts.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def reads_only(view):
    """Let any site POST to ``view``: it changes nothing and reads no session (OAI-PMH)."""
    view.reads_only = True
    return view


def role_required(*roles: str):
    """Allow only users with one of ``roles`` (admins always pass)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            user = current_user()
            if user.role != "admin" and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def changes_nothing(view):
    """Mark a view whose POST changes and stores nothing (a pupil checking an answer).

    Such a form is the same for every reader (its page is rendered once), so it carries no
    token; a forged post could only show someone a checked answer.
    """
    view.changes_nothing = True
    return view


def csrf_token() -> str:
    return session.get("csrf", "")


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.host


def register(app: Flask) -> None:
    # Flask holds its own defaults for these (no SameSite, 31 days), so a setdefault would
    # never apply ours; a value set on purpose is kept.
    for key, value in (
        ("SESSION_COOKIE_SAMESITE", "Lax"),
        ("SESSION_COOKIE_HTTPONLY", True),
        ("PERMANENT_SESSION_LIFETIME", timedelta(hours=12)),
    ):
        if app.config.get(key) == Flask.default_config[key]:
            app.config[key] = value

    @app.before_request
    def load_user():
        g.user = None
        if "user_id" not in session:  # reading an absent session sets no cookie
            return
        user = db.session.get(User, session["user_id"])
        if user is None or user.disabled or user.session_version != session.get("version"):
            session.clear()
            return
        g.user = user

    @app.before_request
    def check_csrf():
        if request.method not in UNSAFE_METHODS:
            return
        if getattr(app.view_functions.get(request.endpoint), "reads_only", False):
            return
        if not _same_origin() and request.headers.get("Origin") is not None:
            abort(403)  # another site's page is posting on a user's behalf
        if getattr(app.view_functions.get(request.endpoint), "changes_nothing", False):
            return
        if "user_id" in session:
            sent = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                abort(403)
        elif not _same_origin():
            # Login has no session yet: the browser's Origin/Referer must be this site.
            abort(403)

    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)


def editable_country(code: str) -> Country:
    """Return the country if the signed-in user edits it; 404 otherwise (not even its name leaks)."""
    user = current_user()
    country = db.session.get(Country, code) if code else None
    if country is None or not user.can_act_for(country.code):
        abort(404)
    return country
