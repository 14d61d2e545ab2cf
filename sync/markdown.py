"""Scan Markdown the way CommonMark reads it, without rendering it: headings, links, fences.

Reading content (``sync.content``) and converting courses (``sync.course``) both need to know
which lines are code, where a page's title is and which local files it links to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")
# ![alt](target "title") and [text](target): the target is the first non-space run, or all of
# <…> (CommonMark's way to write a target with spaces).
_LINK_TARGET = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>\n]*)>|([^)\s]+))(?:\s+[\"'][^)]*[\"'])?\s*\)"
)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#|/)", re.IGNORECASE)
# An exercise (``sync.exercises``) is a fence that opens at the start of a line; its lines are
# lesson text (a question, its images), not code.
EXERCISE_OPENING = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?:exercise|exercice)[ \t]*$", re.IGNORECASE
)


def _outside_code(markdown: str):
    """Yield (line number, line) for lines outside fenced code blocks (exercises are not code)."""
    fence = None
    exercise = ""
    for number, line in enumerate(markdown.split("\n"), start=1):
        stripped = line.lstrip()
        if exercise:
            if stripped.startswith(exercise) and set(stripped.strip()) == {exercise[0]}:
                exercise = ""
            else:
                yield number, line
            continue
        opening = EXERCISE_OPENING.match(line) if fence is None else None
        if opening:
            exercise = opening["fence"]
            continue
        match = _FENCE.match(stripped)
        if match:
            if fence is None:
                fence = match.group(1)
            elif stripped.startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def first_heading(markdown: str) -> str:
    """Return the text of the first level-one heading outside code, or ''."""
    for _, line in _outside_code(markdown):
        match = _HEADING.match(line)
        if match:
            return match.group(1).strip()
    return ""


def local_targets(markdown: str) -> list[tuple[str, int]]:
    """Return (target, line) for each link or image pointing at a local file."""
    found = []
    for number, line in _outside_code(markdown):
        for match in _LINK_TARGET.finditer(line):
            target = match.group(1) if match.group(1) is not None else match.group(2)
            if not _EXTERNAL.match(target):
                found.append((target, number))
    return found


# ---------------------------------------------------------------------------- fences in nested blocks


def fence_marker(line: str) -> str:
    """Return the fence a line opens or closes ("```", "~~~~"), or ''."""
    match = re.match(r"^\s*(`{3,}|~{3,})(.*)$", line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return ""  # "```x = 1```" is inline code: a fence's info string has no backtick
    return match.group(1)


_CONTAINER = re.compile(
    r"^(?P<indent> *)(?:(?:!!!|\?\?\?\+?|===\+?)(?=\s|$)|(?P<item>[-*+]|\d{1,9}[.)])(?P<gap> +|$))"
)


class Fences:
    """Tell, line after line, which lines are fenced code.

    A fence counts only when it is indented less than 4 spaces more than the block holding
    it (an admonition's or a list item's content), as in CommonMark: deeper, it is the text
    of an indented code block.
    """

    def __init__(self) -> None:
        # Content indentation of the open admonitions and list items, innermost last.
        self.containers: list[int] = []
        self.fence = ""
        self.context = 0

    def is_code(self, line: str) -> bool:
        """Return whether ``line`` opens, closes or sits inside fenced code."""
        expanded = line.expandtabs(4)
        stripped = expanded.lstrip()
        indent = len(expanded) - len(stripped)
        marker = fence_marker(expanded)
        if self.fence:
            if not stripped or indent >= self.context:
                closing = marker[:1] == self.fence[:1] and len(marker) >= len(self.fence)
                if closing and not stripped[len(marker) :].strip() and indent - self.context <= 3:
                    self.fence = ""
                return True
            self.fence = ""  # the block holding the fence has ended, and the fence with it
        if not stripped:
            return False
        while self.containers and self.containers[-1] > indent:
            self.containers.pop()
        context = self.containers[-1] if self.containers else 0
        if marker and indent - context <= 3:
            self.fence, self.context = marker, context
            return True
        container = _CONTAINER.match(expanded)
        if container:
            if container["item"] is None:
                self.containers.append(indent + 4)
            else:
                gap = (
                    len(container["gap"]) if container["gap"] and len(container["gap"]) <= 4 else 1
                )
                self.containers.append(indent + len(container["item"]) + gap)
        return False


def outside_fences(lines: list[str]) -> Iterator[str]:
    """Yield the lines that are not fenced code."""
    fences = Fences()
    for line in lines:
        if not fences.is_code(line):
            yield line
