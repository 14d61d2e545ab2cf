"""The ``imaginecole search …`` commands."""

from __future__ import annotations

from imaginecole.search import search_index
from tests.conftest import load_content
from tests.imaginecole.search.test_views import QUERIES, ranked


def test_reindex_command_rebuilds_the_same_index(app, runner):
    load_content(app)
    client = app.test_client()
    before = {q: ranked(client, q) for q in QUERIES}
    assert all(before.values())
    with app.app_context():
        index_dir = search_index().directory
    stamp = index_dir.stat().st_ino
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output.splitlines()[-1]
    assert index_dir.stat().st_ino != stamp, "a new index folder was swapped in"
    assert {q: ranked(client, q) for q in QUERIES} == before
