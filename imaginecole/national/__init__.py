"""National team pages: upload, curate, manage the curriculum, see coverage, publish.

One blueprint; each feature adds its routes from its own module, imported below.
"""

from flask import Blueprint

bp = Blueprint("national", __name__, url_prefix="/<lang>/national", template_folder="templates")

from imaginecole.national import (  # noqa: E402,F401  (each module adds its routes to bp)
    coverage,
    curation,
    curriculum,
    dashboard,
    publishing,
    uploads,
)
