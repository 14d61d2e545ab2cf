"""Find the line of a field in TOML text, so problems can point at it.

``tomllib`` gives values but no positions. TOML written by people is line-oriented, so a scan
of table headers and ``key =`` lines is enough to point at the right line.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_INLINE_KEY = re.compile(r"([A-Za-z0-9_\-]+)\s*=")


class TomlLines:
    def __init__(self, text: str):
        # (table path, key) -> line; table path is a tuple like ("levels", 2) or ("title",)
        self._keys: dict[tuple, int] = {}
        self._tables: dict[tuple, int] = {}
        counts: dict[str, int] = {}
        table: tuple = ()
        for number, line in enumerate(text.split("\n"), start=1):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = (*name.split("."), index)
                else:
                    table = tuple(name.split("."))
                self._tables.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._keys.setdefault((*table, key.group(1)), number)
                # inline tables: name = { fr = "…", en = "…" }
                rest = line[key.end() :]
                if "{" in rest:
                    for inner in _INLINE_KEY.finditer(rest):
                        self._keys.setdefault((*table, key.group(1), inner.group(1)), number)

    def line_of(self, where: tuple) -> int | None:
        """Return the line of the most specific known part of ``where``, or None."""
        for end in range(len(where), 0, -1):
            part = tuple(where[:end])
            if part in self._keys:
                return self._keys[part]
            if part in self._tables:
                return self._tables[part]
        return None
