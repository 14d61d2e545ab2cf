"""Every table of the app, imported in one place so that the schema is always whole.

Each domain keeps its tables in its own ``models.py``; importing them all here lets the
migrations' check (and relationships named by string across domains) see every one.
"""

from __future__ import annotations

from imaginecole.accounts import models as accounts
from imaginecole.bundles import models as bundles
from imaginecole.content import models as content
from imaginecole.curation import models as curation
from imaginecole.curriculum import models as curriculum
from imaginecole.media import models as media
from imaginecole.oai import models as oai
from imaginecole.pages import models as pages
from imaginecole.review import models as review
from imaginecole.search import models as search
from imaginecole.submissions import models as submissions
from imaginecole.uploads import models as uploads

DOMAIN_MODELS = (
    accounts,
    bundles,
    content,
    curation,
    curriculum,
    media,
    oai,
    pages,
    review,
    search,
    submissions,
    uploads,
)
