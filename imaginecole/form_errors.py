"""Errors services raise for a form that cannot be accepted as it is."""

from __future__ import annotations


class FormProblems(ValueError):
    """Something asked for cannot be done; ``problems`` maps each form field to a problem code.

    Pages turn the codes into sentences in the reader's language and show the form again with
    everything that was typed, so nothing is lost.
    """

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{field}: {code}" for field, code in problems.items()))
        self.problems = problems
