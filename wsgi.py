"""WSGI entry point for production servers: `gunicorn wsgi:app` or `waitress-serve wsgi:app`.

Run `imaginecole db init` (or `imaginecole content load`) once before the first start.
"""

from imaginecole import create_app

app = create_app()
