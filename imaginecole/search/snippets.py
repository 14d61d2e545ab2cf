"""Snippets: the part of a text around what was searched for, matches marked, as safe HTML."""

from __future__ import annotations

import functools
import re
import unicodedata
from html import escape


def _accent_classes() -> dict[str, str]:
    """Map each base letter to a pattern matching it and every accented letter folding to it.

    The accented letters of Latin-1 (French, and most languages taught beside it): with the
    rarer ones of Latin Extended, each query's pattern took milliseconds to compile.
    """
    variants: dict[str, list[str]] = {}
    for code in range(0xC0, 0x100):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if len(base) == 1 and base != char:
            variants.setdefault(base.lower(), []).append(char)
    return {base: f"[{base}{''.join(chars)}]" for base, chars in variants.items()}


ACCENT_CLASSES = _accent_classes()
SNIPPET_CHARS = 220


def _stem_pattern(stem: str) -> str:
    """Return a pattern matching ``stem`` however it is accented (élève, eleve, ÉLÈVE)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    return "".join(ACCENT_CLASSES.get(c, re.escape(c)) for c in folded.lower())


def make_snippet(body: str, stems: list[str], arabic: bool = False) -> str:
    """Return safe HTML: the part of ``body`` around the first match, matches in <mark>.

    The indexed forms are searched in the text itself with a pattern that ignores case and
    accents: one regular-expression scan, where re-analysing every hit's whole text for
    highlighting (or folding it first) cost most of a query's time.
    """
    pattern = _pattern(tuple(s for s in stems if s), arabic)
    if pattern is None:
        return _shorten(body)
    first = pattern.search(body)
    if first is None:
        return _shorten(body)
    start = max(0, first.start() - 60)
    if start:
        space = body.find(" ", start)
        start = space + 1 if 0 <= space < first.start() else start
    end = min(len(body), start + SNIPPET_CHARS)
    if end < len(body):
        space = body.rfind(" ", first.end(), end)
        end = space if space > first.end() else end
    parts, last = [], start
    for match in pattern.finditer(body, start, end):
        parts.append(escape(body[last : match.start()]))
        parts.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    parts.append(escape(body[last:end]))
    return ("… " if start else "") + "".join(parts) + (" …" if end < len(body) else "")


@functools.lru_cache(maxsize=64)
def _pattern(stems: tuple[str, ...], arabic: bool) -> re.Pattern | None:
    """Return the pattern marking ``stems``: built once for every hit of a query."""
    if not stems:
        return None
    # French and English stems start words ("algorithm" in "algorithmes"); Arabic ones may
    # follow a prefix ("مدرس" in "المدرسة").
    lead = r"\w*" if arabic else r"\b"
    alternatives = "|".join(_stem_pattern(s) for s in stems)
    return re.compile(lead + "(?:" + alternatives + r")\w*", re.IGNORECASE)


def _shorten(text: str, limit: int = 200) -> str:
    if len(text) <= limit:
        return escape(text)
    return escape(text[:limit].rsplit(" ", 1)[0]) + " …"
