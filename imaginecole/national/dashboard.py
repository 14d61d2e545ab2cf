"""The national team's starting page."""

from flask import render_template
from flask_babel import lazy_gettext as _l

from imaginecole.auth import current_user, role_required
from imaginecole.extensions import db
from imaginecole.models import Country
from imaginecole.national import bp


def team_country() -> Country | None:
    """Return the country the signed-in editor works for (admins: None, they choose)."""
    user = current_user()
    return db.session.get(Country, user.country_code) if user and user.country_code else None


# (endpoint, label) of each feature's main page; each takes a ``country`` argument.
NATIONAL_LINKS = (
    ("national.upload", _l("Upload content")),
    ("national.modules", _l("Curate modules")),
    ("national.curriculum", _l("Curriculum")),
    ("national.coverage", _l("Coverage map")),
    ("national.publish", _l("Publish a bundle")),
)


@bp.app_context_processor
def national_helpers():
    from flask import current_app

    return {"national_links": NATIONAL_LINKS, "national_endpoints": current_app.view_functions}


@bp.route("/")
@role_required("editor")
def dashboard():
    countries = (
        [team_country()]
        if current_user().role != "admin"
        else db.session.scalars(db.select(Country)).all()
    )
    return render_template(
        "national/dashboard.html", countries=[c for c in countries if c is not None]
    )
