"""Form problems: the error operations raise for a form, and what its codes mean to a reader."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# The codes that teachers' and reviewers' forms share.
PROBLEM_TEXTS = {
    "required": _l("This field is required."),
    "too_long": _l("This text is too long."),
    "invalid": _l("Choose from the list."),
    "invalid_text": _l("This text contains invisible control characters; please retype it."),
    "locked": _l("This resource can no longer be changed."),
    "exercise": _l("An exercise has mistakes: the preview says which line to fix."),
}


class FormProblems(ValueError):
    """Something asked for cannot be done; ``problems`` maps each form field to a problem code.

    Pages turn the codes into sentences in the reader's language and show the form again with
    everything that was typed, so nothing is lost.
    """

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{field}: {code}" for field, code in problems.items()))
        self.problems = problems
