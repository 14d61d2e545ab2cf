"""Full-text search that understands French. Only this package imports whoosh.

The app talks to ``search_index()`` through ``SearchIndex`` (``interface``), so a PostgreSQL
full-text engine can stand behind it at national scale; a school server runs ``WhooshIndex``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from imaginecole.search.interface import (
    Document,
    Hit,
    IndexUpdate,
    SearchIndex,
    SearchQuery,
    SearchResults,
)
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
        index = WhooshIndex(Path(app.config["DATA_DIR"]) / "search")
        app.extensions["imaginecole.search"] = index
    return index
