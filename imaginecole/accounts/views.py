"""Login and logout pages for teachers, editors and admins."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from imaginecole.accounts.auth import current_user, login_required, role_required, start_session
from imaginecole.accounts.models import ROLES, User
from imaginecole.accounts.operations import (
    PASSWORD_LINK_LIFETIME,
    AccountError,
    LinkRefused,
    OutOfScope,
    authenticate,
    check_manages,
    end_sessions,
    invite_user,
    link_user,
    list_users,
    manage,
    remember_device,
    reset_password,
    trusted_device,
    use_password_link,
    within_scope,
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


# ---------------------------------------------------------------------------- accounts (admins)

# The operations' refusals are in English for the command line; the page says them in the
# reader's language. Any other refusal (a text too long…) is shown as the operation wrote it.
ACCOUNT_REFUSALS = {
    "already exists": _l("An account already exists for this e-mail address."),
    "is not an e-mail address": _l("This is not an e-mail address."),
    "a name is required": _l("A name is required."),
    "acts for one country": _l("Editors and teachers act for one country: give its code."),
    "is not a two-letter country code": _l("Give the country as its two-letter code, like sn."),
    "is not loaded": _l("An editor's country must be loaded on this server first."),
    "your own": _l("You cannot take away your own admin role or disable your own account."),
    "at least": _l("The password must have at least 10 characters."),
}
LINK_REFUSALS = {
    "unknown": _l("This link is not valid. Ask your administrator for a new one."),
    "used": _l("This link was used already: it works once. Ask your administrator for a new one."),
    "expired": _l("This link has expired. Ask your administrator for a new one."),
}
ROLE_NAMES = {"admin": _l("administrator"), "editor": _l("editor"), "teacher": _l("teacher")}


def _explain(error: AccountError) -> str:
    return next(
        (str(text) for key, text in ACCOUNT_REFUSALS.items() if key in str(error)), str(error)
    )


def _link_page(user: User, secret: str):
    """Show a new set-password link once: it is kept nowhere but in this answer."""
    return render_template(
        "accounts/link.html",
        account=user,
        link=url_for("accounts.set_password", secret=secret, _external=True),
        days=PASSWORD_LINK_LIFETIME.days,
    )


def _roles_offered() -> list[str]:
    """Return the roles the signed-in admin may give (a school's admin: teacher only)."""
    by = current_user()
    return [role for role in ROLES if within_scope(by, role, by.country_code, by.school)]


def _out_of_scope():
    """Refuse an admin an account they do not manage; nothing was changed."""
    db.session.rollback()
    return render_template("accounts/refused.html"), 403


@bp.route("/admin/accounts", methods=["GET", "POST"])
@role_required("admin")
def account_list():
    error, form = None, request.form
    if request.method == "POST":
        try:
            user, secret = invite_user(
                form.get("email", ""),
                form.get("name", ""),
                form.get("role", ""),
                form.get("country", "").strip().lower() or None,
                form.get("school", ""),
                current_user(),
            )
        except OutOfScope:
            return _out_of_scope()
        except AccountError as refusal:
            db.session.rollback()
            error = _explain(refusal)
        else:
            db.session.commit()
            return _link_page(user, secret)
    return render_template(
        "accounts/list.html",
        accounts=list_users(current_user()),
        roles=_roles_offered(),
        role_names=ROLE_NAMES,
        error=error,
        form=form,
    ), 400 if error else 200


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/admin/accounts/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def account_edit(user_id: int):
    user, error = _account(user_id), None
    try:
        check_manages(current_user(), user)
    except OutOfScope:
        return _out_of_scope()
    if request.method == "POST":
        try:
            manage(
                user,
                current_user(),
                role=request.form.get("role", ""),
                country_code=request.form.get("country", "").strip().lower() or None,
                disabled=request.form.get("disabled") == "yes",
            )
        except OutOfScope:
            return _out_of_scope()
        except AccountError as refusal:
            db.session.rollback()
            error = _explain(refusal)
        else:
            db.session.commit()
            flash(_("The account of %(name)s is saved.", name=user.name), "info")
            return redirect(url_for("accounts.account_list"))
    return render_template(
        "accounts/edit.html",
        account=user,
        roles=_roles_offered(),
        role_names=ROLE_NAMES,
        error=error,
    ), 400 if error else 200


@bp.route("/admin/accounts/<int:user_id>/reset", methods=["POST"])
@role_required("admin")
def account_reset(user_id: int):
    user = _account(user_id)
    try:
        secret = reset_password(user, current_user())
    except OutOfScope:
        return _out_of_scope()
    db.session.commit()
    return _link_page(user, secret)


@bp.route("/password/<secret>", methods=["GET", "POST"])
def set_password(secret: str):
    # The secret is in the path: the page must not leak it to other sites through Referer.
    try:
        user = link_user(secret)
    except LinkRefused as refusal:
        return render_template(
            "accounts/password.html", refused=str(LINK_REFUSALS[refusal.reason])
        ), 410 if refusal.reason != "unknown" else 404
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("again", ""):
            error = _("The two passwords differ. Type the same one twice.")
        else:
            try:
                use_password_link(secret, password)
            except AccountError as refusal:
                db.session.rollback()
                error = _explain(refusal)
            else:
                db.session.commit()
                flash(_("Your password is set. Sign in with it."), "info")
                return redirect(url_for("accounts.login"))
    response = current_app.make_response(
        (
            render_template("accounts/password.html", account=user, error=error),
            400 if error else 200,
        )
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
