"""Login and logout pages for teachers, editors and admins."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from imaginecole.accounts.auth import current_user, login_required, start_session
from imaginecole.accounts.operations import (
    authenticate,
    end_sessions,
    remember_device,
    trusted_device,
)
from imaginecole.extensions import db

bp = Blueprint("accounts", __name__, url_prefix="/<lang>", template_folder="templates")
# Set only once someone has signed in: it lets this browser past the brakes that strangers'
# failures could engage (accounts/operations.py). Pupils never get it.
DEVICE_COOKIE = "trusted_device"
DEVICE_COOKIE_AGE = 365 * 24 * 3600


def _safe_next(target: str | None) -> str | None:
    # Only paths on this site: an attacker's link must not bounce a user elsewhere after login.
    # Browsers drop tabs and line breaks inside a URL ("/\t/evil.example" is "//evil.example")
    # and read a backslash as a slash, so any of them makes the target unsafe.
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, email = None, 200, ""
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        password = request.form.get("password", "")[:1024]
        secret = current_app.config["SECRET_KEY"]
        tokens = request.cookies.get(DEVICE_COOKIE, "")[:2048]
        device = trusted_device(secret, tokens, email)
        result = authenticate(email, password, request.remote_addr or "unknown", device=device)
        # Whatever the result: a failed attempt must be counted for the brake on guessing.
        db.session.commit()
        if result.user is not None:
            start_session(result.user)
            response = redirect(_safe_next(request.args.get("next")) or url_for("catalog.home"))
            response.set_cookie(
                DEVICE_COOKIE,
                remember_device(secret, tokens, email),
                max_age=DEVICE_COOKIE_AGE,
                secure=request.is_secure,
                httponly=True,
                samesite="Lax",
            )
            return response
        if result.throttled:
            error, status = _("Too many failed attempts. Wait 15 minutes, then try again."), 429
        else:
            error, status = _("Wrong e-mail address or password."), 400
    return render_template("accounts/login.html", error=error, email=email), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_sessions(current_user())
    db.session.commit()
    session.clear()
    return redirect(url_for("catalog.home"))
