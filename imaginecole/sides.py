"""Which tools a server shows: a school's, a national team's, or both (the SERVER_ROLE setting).

A school admin has no use for publishing tools, and a national team no use for installing
bundles from a USB drive: each side sees only its own, in the navigation and at the pages'
addresses (the others answer 404, as pages that do not exist). Reading lessons, searching,
signing in and accounts are on both sides. ``both`` is for trying the app on one machine.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request

from imaginecole.config import SettingError

SCHOOL, NATIONAL, BOTH = "school", "national", "both"
ROLES = (SCHOOL, NATIONAL, BOTH)

# Whole blueprints that belong to one side; the bundles blueprint is split by endpoint.
BLUEPRINT_SIDES = {
    "national": NATIONAL,
    "uploads": NATIONAL,
    "curation": NATIONAL,
    "curriculum": NATIONAL,
    "coverage": NATIONAL,
    "review": NATIONAL,
    "submissions": SCHOOL,  # teachers write here; their outbox goes up to the national server
}
ENDPOINT_SIDES = {
    "exports.build_zim": NATIONAL,
    "exports.download_zim": NATIONAL,
    "bundles.publish": NATIONAL,
    "bundles.bundle_download": NATIONAL,
    "bundles.index": SCHOOL,
    "bundles.bundle_list": SCHOOL,
    "bundles.bundle_install_all": SCHOOL,
    "bundles.bundle_import": SCHOOL,
    "bundles.bundle_remove_confirm": SCHOOL,
    "bundles.bundle_remove": SCHOOL,
    "bundles.trust_add": SCHOOL,
    "bundles.trust_entry": NATIONAL,
    # A school reads there which bundle brought each version of a module.
    "curation.module_history": None,
}


def side_of(endpoint: str | None) -> str | None:
    """Return the side an endpoint belongs to, or None when both sides have it."""
    if endpoint is None:
        return None
    if endpoint in ENDPOINT_SIDES:  # None: on both sides, whatever its blueprint
        return ENDPOINT_SIDES[endpoint]
    return BLUEPRINT_SIDES.get(endpoint.partition(".")[0])


def server_role(app: Flask | None = None) -> str:
    return (app or current_app).config["SERVER_ROLE"]


def shows(side: str | None, app: Flask | None = None) -> bool:
    """Tell whether this server shows the tools of ``side`` (None: tools of both sides)."""
    role = server_role(app)
    return side is None or role == BOTH or role == side


def check_role(app: Flask) -> None:
    """Refuse to start with a SERVER_ROLE that is not one of ROLES, naming the choices."""
    role = app.config.get("SERVER_ROLE")
    if role not in ROLES:
        raise SettingError(
            f"The setting SERVER_ROLE is {role!r}: use one of {', '.join(ROLES)} "
            "(IMAGINECOLE_SERVER_ROLE)."
        )


def register(app: Flask) -> None:
    check_role(app)

    @app.before_request
    def only_this_sides_pages() -> None:
        if not shows(side_of(request.endpoint)):
            abort(404)

    app.jinja_env.globals.update(shows_side=shows, SCHOOL=SCHOOL, NATIONAL=NATIONAL)
