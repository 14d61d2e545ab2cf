"""Problems found in content, reported with file, line and field in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """A problem in plain English; ``code`` and ``values`` let a reader say it in another language.

    ``code`` is empty for problems only said in English.
    """

    path: str
    line: int | None
    field: str
    message: str
    code: str = ""
    values: dict = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ProblemList(list[Problem]):
    """A list of problems that can show paths relative to a folder the reader knows."""

    def add(
        self,
        path: Path | str,
        line: int | None,
        field: str,
        message: str,
        code: str = "",
        values: dict | None = None,
    ) -> None:
        self.append(Problem(str(path), line, field, message, code, values or {}))

    def under(self, path: Path | str) -> list[Problem]:
        """Return the problems found in ``path`` or below it."""
        prefix = str(path)
        return [p for p in self if p.path == prefix or p.path.startswith(prefix.rstrip("/") + "/")]
