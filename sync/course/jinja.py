"""Expand or drop the Jinja an MkDocs site's pages hold (macros, comments), keeping line numbers."""

from __future__ import annotations

import bisect
import re

from sync.markdown import Fences

_JINJA_START = re.compile(r"`+|\{\{|\{#|\{%|<!--")
_MACRO_CALL = re.compile(r"\{\{-?\s*([A-Za-z_]\w*)\s*\(?")
_ID_ATTRIBUTE = re.compile(r"\{#[\w-]+\s*\}")  # "{#anchor}" after a heading is not a comment


def expand_jinja(text: str) -> tuple[str, list[int]]:
    """Apply the site's macros and drop Jinja and HTML comments outside fenced code.

    Return the new text and, for each of its lines, the line of ``text`` it comes from, so
    what is reported later points at the page as written.
    """
    pieces: list[tuple[str, int]] = []  # (text, offset in the source where its newlines are exact)
    counters = {"exercice": 0, "question": 0}
    fences = Fences()
    pos, end = 0, len(text)
    while pos < end:
        eol = text.find("\n", pos)
        eol = end if eol < 0 else eol
        if fences.is_code(text[pos:eol]):
            pieces.append((text[pos : eol + 1], pos))
            pos = eol + 1
            continue
        cursor = pos
        while True:
            match = _JINJA_START.search(text, cursor, eol)
            if match is None:
                pieces.append((text[cursor : eol + 1], cursor))
                pos = eol + 1
                break
            start = match.start()
            token = match.group()
            if token.startswith("`"):
                close = text.find(token, match.end(), eol)
                stop = match.end() if close < 0 else close + len(token)
                pieces.append((text[cursor:stop], cursor))
                cursor = stop
                continue
            pieces.append((text[cursor:start], cursor))
            stop, output = _jinja_at(text, start, counters)
            if stop is None:
                pieces.append((token, start))
                cursor = match.end()
                continue
            pieces.extend(output)
            cursor = stop
            if cursor > eol:  # the macro ran over several lines: go on scanning its last line
                eol = text.find("\n", cursor)
                eol = end if eol < 0 else eol
    newlines = [i for i, char in enumerate(text) if char == "\n"]
    line_map = [1]
    out = []
    for piece, offset in pieces:
        out.append(piece)
        index = piece.find("\n")
        while index >= 0:
            line_map.append(bisect.bisect_left(newlines, offset + index + 1) + 1)
            index = piece.find("\n", index + 1)
    return "".join(out), line_map


def _jinja_at(
    text: str, start: int, counters: dict[str, int]
) -> tuple[int | None, list[tuple[str, int]]]:
    """Evaluate the Jinja construct at ``start``; return where it ends and what replaces it."""
    if text.startswith("<!--", start):
        # An HTML comment is hidden on the site; shown as text here, it would reveal notes.
        close = text.find("-->", start + 4)
        return (None, []) if close < 0 else (close + 3, [])
    if text.startswith("{#", start):
        if _ID_ATTRIBUTE.match(text, start):
            return None, []
        close = text.find("#}", start + 2)
        return (None, []) if close < 0 else (close + 2, [])
    if text.startswith("{%", start):
        close = text.find("%}", start + 2)
        if close < 0:
            return None, []
        if re.match(r"\{%-?\s*raw\s*-?%\}", text[start : close + 2]):
            # A raw block shows its content as written.
            finish = re.compile(r"\{%-?\s*endraw\s*-?%\}").search(text, close + 2)
            if finish is None:
                return None, []
            return finish.end(), [(text[close + 2 : finish.start()], close + 2)]
        return close + 2, []
    call = _MACRO_CALL.match(text, start)
    if call is None:
        return None, []
    stop, strings, first_argument = _scan_macro(text, call.end())
    if stop is None:
        return None, []
    name = call.group(1)
    if name in counters:
        counters[name] += 1
        return stop, [(f"{name.capitalize()} {counters[name]}", start)]
    if name == "initexo":
        counters["exercice"] = int(first_argument) if first_argument.isdigit() else 0
        return stop, []
    if name == "correction" and first_argument == "True":
        # correction(True, "…") shows its text, like on the site; correction(False, …) hides it.
        output: list[tuple[str, int]] = []
        for value, offset in strings:
            output.extend(_unescaped_lines(value, offset))
        return stop, output
    return stop, []  # other macros draw widgets of the site (editors, terminals): nothing to keep


def _scan_macro(text: str, pos: int) -> tuple[int | None, list[tuple[str, int]], str]:
    """Find the ``}}`` that ends a macro call, skipping quoted strings.

    Return its end, the string literals met (content, offset), and the first argument as written.
    """
    strings: list[tuple[str, int]] = []
    first_argument: list[str] = []
    in_first = True  # still reading the first argument
    i = pos
    while i < len(text):
        char = text[i]
        if char in "\"'":
            j = i + 1
            while j < len(text) and text[j] != char:
                j += 2 if text[j] == "\\" else 1
            if j >= len(text):
                return None, [], ""
            strings.append((text[i + 1 : j], i + 1))
            if in_first:
                first_argument.append(text[i : j + 1])
            i = j + 1
            continue
        if text.startswith("}}", i):
            return i + 2, [s for s in strings if s[0]], "".join(first_argument).strip()
        if char == "," and in_first:
            in_first = False
        elif in_first and char != ")":
            first_argument.append(char)
        i += 1
    return None, [], ""


def _unescaped_lines(value: str, offset: int) -> list[tuple[str, int]]:
    """Split a Jinja string literal into lines with their offsets, undoing its quote escapes."""
    pieces = []
    position = offset
    for number, line in enumerate(value.split("\n")):
        if number:
            pieces.append(("\n", position - 1))
        pieces.append((re.sub(r"\\([\"'\\])", r"\1", line), position))
        position += len(line) + 1
    return pieces
