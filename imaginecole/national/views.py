"""The national team's starting page."""

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l

from imaginecole.accounts.auth import current_user, role_required
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db

bp = Blueprint("national", __name__, url_prefix="/<lang>/national", template_folder="templates")


def team_country() -> Country | None:
    """Return the country the signed-in editor works for (admins: None, they choose)."""
    user = current_user()
    return db.session.get(Country, user.country_code) if user and user.country_code else None


# (endpoint, label) of each feature's main page; each takes a ``country`` argument.
NATIONAL_LINKS = (
    ("uploads.upload", _l("Upload content")),
    ("curation.modules", _l("Curate modules")),
    ("curriculum.curriculum", _l("Curriculum")),
    ("coverage.coverage", _l("Coverage map")),
    ("bundles.publish", _l("Publish a bundle")),
)


@bp.app_context_processor
def national_helpers():
    return {"national_links": NATIONAL_LINKS, "national_endpoints": current_app.view_functions}


@bp.route("/")
@role_required("editor")
def dashboard():
    countries = (
        [team_country()]
        if not current_user().manages_all
        else db.session.scalars(db.select(Country)).all()
    )
    return render_template(
        "national/dashboard.html", countries=[c for c in countries if c is not None]
    )
