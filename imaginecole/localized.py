"""Texts stored per language, shown in the reader's language when a translation exists."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shown:
    """A text together with the language it is actually in, for the ``lang`` attribute."""

    text: str
    lang: str

    def __str__(self) -> str:
        return self.text


def pick(texts: dict[str, str] | None, lang: str, fallback: str = "fr") -> Shown:
    """Return the text in ``lang``, else in ``fallback``, else in any language there is."""
    texts = texts or {}
    for candidate in (lang, fallback, "fr"):
        if texts.get(candidate):
            return Shown(texts[candidate], candidate)
    for candidate, text in texts.items():
        return Shown(text, candidate)
    return Shown("", lang)


class LocalizedMixin:
    """Give models with a ``name`` or ``label`` JSON column a ``shown(lang)`` method."""

    _localized_field = "name"

    def shown(self, lang: str) -> Shown:
        return pick(getattr(self, self._localized_field), lang)
