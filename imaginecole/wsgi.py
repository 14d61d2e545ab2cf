"""WSGI entry point for production servers: `granian --interface wsgi imaginecole.wsgi:app` (or waitress-serve).

Each worker brings the database to this version's schema (under a lock: workers starting
together upgrade it once; a database upgraded by a newer version is refused) and the search
index up to date with the database (after a crash, say) before it serves; both steps are cheap
when nothing is due. See docs/decisions.md, 11.
"""

from imaginecole.app import create_app
from imaginecole.serving import prepare

app = create_app()
prepare(app)
