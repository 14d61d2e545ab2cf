"""Full-text search that understands French. Only this package imports whoosh.

The app talks to ``search_index()`` through ``SearchIndex`` (``interface``): a school server
runs ``WhooshIndex`` (files in the data folder), a national server on PostgreSQL runs
``PostgresIndex`` (tables in the shared database), as the setting SEARCH_ENGINE says.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from imaginecole.extensions import db
from imaginecole.search.interface import (
    Document,
    Hit,
    IndexUpdate,
    SearchIndex,
    SearchQuery,
    SearchResults,
)
from imaginecole.search.postgresql_engine import PostgresIndex
from imaginecole.search.whoosh_engine import WhooshIndex

__all__ = [
    "Document",
    "Hit",
    "IndexUpdate",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "search_index",
]


def search_index() -> SearchIndex:
    """Return this app's search index (one per process, opened on first use)."""
    return index_of(current_app)


def index_of(app: Flask) -> SearchIndex:
    """Return ``app``'s search index, outside a request too."""
    index = app.extensions.get("imaginecole.search")
    if index is None:
        if app.config["SEARCH_ENGINE"] == "postgresql":
            with app.app_context():  # the engine of this app, also when asked outside a request
                index = PostgresIndex(db.engine, db.session)
        else:
            index = WhooshIndex(Path(app.config["DATA_DIR"]) / "search")
        app.extensions["imaginecole.search"] = index
    return index
