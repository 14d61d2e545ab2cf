"""WSGI entry point from a checkout (`granian --interface wsgi wsgi:app`); installed, use `imaginecole.wsgi:app`."""

from imaginecole.wsgi import app

__all__ = ["app"]
