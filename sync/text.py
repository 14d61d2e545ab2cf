"""Small text helpers shared by the content reader and the course importer."""

from __future__ import annotations

import re
import unicodedata


def fold_accents(text: str) -> str:
    """Return ``text`` without diacritics ("élève" -> "eleve")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slugify(text: str, max_length: int = 60) -> str:
    """Return a URL-safe slug: lower case ASCII letters, digits and hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold_accents(text).lower()).strip("-")
    return slug[:max_length].rstrip("-")
