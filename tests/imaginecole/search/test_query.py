"""Reading what a person typed: words and quoted phrases, never query syntax."""

from __future__ import annotations

from imaginecole.search.query import MAX_QUERY_CHARS, parse_user_query


def test_parse_user_query():
    assert parse_user_query('tri "par insertion" python') == (["tri", "python"], ["par insertion"])
    assert parse_user_query('"unbalanced quote') == (["unbalanced", "quote"], [])
    assert parse_user_query("a:b [c] *d NOT") == (["a", "b", "c", "d", "NOT"], [])
    words, _ = parse_user_query(" ".join(["mot"] * 100))
    assert len(words) <= 12
    assert len("".join(parse_user_query("x" * 10_000)[0])) <= MAX_QUERY_CHARS
