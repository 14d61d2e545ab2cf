"""What a person typed, as words and quoted phrases; the same words the index is made of."""

from __future__ import annotations

import re

MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 12
# What every engine counts, corrects and suggests alike, so school and national servers agree.
FACETS = ("country", "levels", "subject", "lang", "resource_type", "kind")
TYPO_RATIO = 20  # a word this many times rarer than a close spelling is taken for a typo
TYPO_MAX_COUNT = 5  # a word written this many times is no typo (and costs no spelling search)
_ARABIC_LETTER = re.compile("[\u0600-\u06ff]")

# Words, keeping inner apostrophes and hyphens so the elision filter can see "l'éducation".
# Combining marks are not \w: kept inside the word, "é" typed as e + U+0301 and Arabic with its
# short vowels stay one word (the term functions of the analysis deal with the marks afterwards).
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
_PART = rf"\w[\w{_MARKS}]*"
WORD = re.compile(rf"{_PART}(?:['’]{_PART})*", re.UNICODE)

_QUOTED = re.compile(r'"([^"]*)"')


def parse_user_query(text: str) -> tuple[list[str], list[str]]:
    """Split what a person typed into loose words and quoted phrases; never fails.

    Nothing is syntax: ``*``, ``:``, brackets, ``NOT`` and unbalanced quotes are plain text.
    """
    text = (
        text[:MAX_QUERY_CHARS]
        .replace("«", '"')
        .replace("»", '"')
        .replace("“", '"')
        .replace("”", '"')
    )
    phrases = [p.strip() for p in _QUOTED.findall(text) if p.strip()]
    rest = _QUOTED.sub(" ", text).replace('"', " ")
    words = WORD.findall(rest)
    return words[:MAX_QUERY_WORDS], phrases[:3]


def languages_written_like(word: str) -> tuple[str, ...]:
    """Return the languages whose vocabulary may hold a spelling close to ``word``."""
    # Looking for a Latin word among Arabic ones (or the other way round) finds nothing, and
    # a spelling search is the dearest part of a query.
    return ("ar",) if _ARABIC_LETTER.search(word) else ("fr", "en")
