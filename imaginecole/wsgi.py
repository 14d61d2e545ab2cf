"""WSGI entry point for production servers: `gunicorn imaginecole.wsgi:app` (or waitress-serve).

Each worker makes sure the tables exist and the search index has caught up with the database
(after a crash, say) before it serves; both steps are idempotent and cheap when nothing is due.
"""

from imaginecole.app import create_app
from imaginecole.serving import prepare

app = create_app()
prepare(app)
