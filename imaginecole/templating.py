"""Helpers every template can call."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Flask, url_for
from flask_babel import lazy_gettext as _l

from imaginecole.curriculum.models import Competency
from imaginecole.extensions import db
from imaginecole.i18n import current_language
from imaginecole.localized import Shown, pick

RESOURCE_TYPES = {
    "lesson": _l("Lesson"),
    "exercise": _l("Exercises"),
    "activity": _l("Activity"),
    "assessment": _l("Assessment"),
    "project": _l("Project"),
    "reference": _l("Reference sheet"),
    "course": _l("Course"),
}
LICENCES = {
    "CC-BY-4.0": _l("Creative Commons Attribution 4.0"),
    "CC-BY-SA-4.0": _l("Creative Commons Attribution-ShareAlike 4.0"),
    "CC0-1.0": _l("Creative Commons Zero (public domain)"),
    "CC-BY-3.0": _l("Creative Commons Attribution 3.0"),
    "CC-BY-SA-3.0": _l("Creative Commons Attribution-ShareAlike 3.0"),
    "CC-BY-2.0": _l("Creative Commons Attribution 2.0"),
    "CC-BY-SA-2.0": _l("Creative Commons Attribution-ShareAlike 2.0"),
    "Etalab-2.0": _l("Etalab Open Licence 2.0"),
    "LO-FR-2.0": _l("Etalab Open Licence 2.0"),
    "MIT": _l("MIT licence"),
    "GFDL-1.3-or-later": _l("GNU Free Documentation License 1.3 or later"),
}
# Where each licence is published: rel="license" links, JSON-LD and OAI-PMH rights name it so.
LICENCE_URLS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-2.0": "https://creativecommons.org/licenses/by/2.0/",
    "CC-BY-SA-2.0": "https://creativecommons.org/licenses/by-sa/2.0/",
    "Etalab-2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "LO-FR-2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "MIT": "https://spdx.org/licenses/MIT.html",
    "GFDL-1.3-or-later": "https://www.gnu.org/licenses/fdl-1.3.html",
}


def licence_url(code: str) -> str:
    """Return the URL of a licence by its SPDX id (SPDX's page for one we do not list)."""
    return LICENCE_URLS.get(code) or f"https://spdx.org/licenses/{code}.html"


def register(app: Flask) -> None:
    static_dir = Path(app.static_folder)

    @cache
    def static_version(filename: str) -> str:
        return hashlib.sha256((static_dir / filename).read_bytes()).hexdigest()[:12]

    def static_url(filename: str) -> str:
        # The hash in the URL lets browsers and proxies keep the file for a year.
        return url_for("static", filename=filename, v=static_version(filename))

    def pick_localized(texts: dict) -> Shown:
        return pick(texts, current_language())

    def competencies_of(subject):
        return db.session.scalars(
            db.select(Competency).filter_by(subject_id=subject.id).order_by(Competency.position)
        ).all()

    app.jinja_env.globals.update(
        competencies_of=competencies_of,
        static_url=static_url,
        pick=pick_localized,
        resource_type_name=lambda code: RESOURCE_TYPES.get(code, code),
        licence_name=lambda code: LICENCES.get(code, code),
        licence_url=licence_url,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
