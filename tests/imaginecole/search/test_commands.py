"""The ``imaginecole search …`` commands."""

from __future__ import annotations

import pytest

from imaginecole.search import search_index
from imaginecole.search.whoosh_engine import WhooshIndex
from tests.conftest import load_content
from tests.imaginecole.search.test_views import QUERIES, ranked


def test_reindex_command_rebuilds_a_lost_index(app, runner):
    # On either engine: the one the database chooses (PostgreSQL's on PostgreSQL).
    load_content(app)
    client = app.test_client()
    before = {q: ranked(client, q) for q in QUERIES}
    assert all(before.values())
    with app.app_context():
        index = search_index()
        index.replace_modules({}, removed=list(index.fingerprints()))
    assert not any(ranked(client, q) for q in QUERIES)
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output.splitlines()[-1]
    assert {q: ranked(client, q) for q in QUERIES} == before


def test_reindex_command_rebuilds_the_same_index(app, runner):
    load_content(app)
    client = app.test_client()
    before = {q: ranked(client, q) for q in QUERIES}
    assert all(before.values())
    with app.app_context():
        if not isinstance(search_index(), WhooshIndex):
            pytest.skip("the index folder is the Whoosh engine's")
        index_dir = search_index().directory
    stamp = index_dir.stat().st_ino
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output.splitlines()[-1]
    assert index_dir.stat().st_ino != stamp, "a new index folder was swapped in"
    assert {q: ranked(client, q) for q in QUERIES} == before
