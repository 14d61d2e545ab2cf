"""Full-text search that understands French. Only this package imports whoosh.

The app talks to ``search_index()`` through a small interface (replace_modules, begin_update,
rebuild, fingerprints, search), so a PostgreSQL full-text engine can stand behind it at
national scale.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from imaginecole.search.engine import (
    Document,
    Hit,
    IndexUpdate,
    SearchIndex,
    SearchQuery,
    SearchResults,
)

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
    index = current_app.extensions.get("imaginecole.search")
    if index is None:
        index = SearchIndex(Path(current_app.config["DATA_DIR"]) / "search")
        current_app.extensions["imaginecole.search"] = index
    return index
