"""Render the exercises of a lesson: a form for pupils, or the exercise with its correction.

The pupil's form never holds the expected answer, the explanation or anything that gives them
away: the server checks what is sent (``sync.exercises.check``) and renders the exercise again
with its feedback. Corrections are shown only where a person needs them without a server (the
offline ZIP, paper) and to teachers and reviewers.

Every piece an author wrote is rendered by the lesson's Markdown renderer and sanitised; the
form around it is built here, with every value escaped. The words of the form (buttons,
feedback) are in the language of the lesson, like the text around them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from html import escape

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sync.exercises import Exercise, ExerciseBlock, ExerciseProblem, Result, expected_answers

# Corrections: none (a pupil's page), "details" (each behind "Voir la correction"), "open"
# (shown, for teachers and reviewers) or "key" (none inline; ``answer_key`` lists them).
CORRECTION_MODES = ("none", "details", "open", "key")
BLANK_MARK = "\ue000%d\ue001"  # private-use characters mark a blank while the prompt is rendered
_BLANK_FOUND = re.compile("\ue000(\\d+)\ue001")
_PRIVATE = re.compile("[\ue000\ue001]")


# The words every exercise form repeats (buttons, labels, "Exercice 3"): not what a lesson is
# about, so search leaves them out.
FORM_WORDS = re.compile(
    r'<button[^>]*>.*?</button>|<p class="exercise-(?:title|note)">.*?</p>'
    r'|<label for="exercise-[^"]*">.*?</label>|(?<=<details class="exercise-hint">)<summary>.*?</summary>',
    re.S,
)


def without_form_words(html: str) -> str:
    """Return lesson HTML without the words of its exercise forms."""
    return FORM_WORDS.sub(" ", html)


# An author's mistakes, by ``sync.exercises.PROBLEM_MESSAGES`` code; the values are the same.
PROBLEM_TEXTS = {
    "not_closed": _l("the exercise is not closed: end it with a line %(marker)s"),
    "written_twice": _l('"%(key)s:" is written twice'),
    "stray_line": _l(
        "this line belongs to no part of the exercise: put the question first, then the choices "
        "or answer:, hint: and explanation: lines"
    ),
    "no_question": _l("the exercise has no question: write it first"),
    "unknown_forgive": _l(
        '%(key)s: "%(word)s" is not known (write accents, case or both; in French: accents, '
        "majuscules)"
    ),
    "empty_blank": _l("a blank [[…]] has an empty answer"),
    "unclosed_blank": _l("a blank is not closed: write [[answer]] on one line"),
    "mixed_kinds": _l("the exercise mixes %(kinds)s: keep one kind of answer"),
    "no_answer": _l(
        'the exercise has no answer: add choices ("- [x] right", "- [ ] wrong"), an "answer:" '
        "line or blanks written [[answer]] in the question"
    ),
    "tolerance_not_numeric": _l("%(key)s: only a numeric answer has a tolerance"),
    "unit_not_numeric": _l("%(key)s: only a numeric answer has a unit"),
    "choice_type": _l("type: a multiple-choice question has no type"),
    "too_few_choices": _l("a multiple-choice question needs at least two choices"),
    "too_many_choices": _l("at most %(most)s choices"),
    "no_right_choice": _l('no choice is marked right: write "- [x]" before it'),
    "empty_answer": _l("%(key)s: the answer is empty"),
    "answer_too_long": _l("%(key)s: longer than %(most)s characters"),
    "unknown_type": _l('type: "%(word)s" is not known (write text or number; texte, nombre)'),
    "not_a_number": _l('"%(value)s" is not a number (write 4,8 or 4.8 or 3/4)'),
    "numeric_answer_twice": _l("a numeric answer is written once"),
    "bad_tolerance": _l('%(key)s: "%(value)s" is not a number of zero or more'),
    "blanks_type": _l("type: blanks have no type"),
    "too_many_blanks": _l("at most %(most)s blanks in one exercise"),
}
KIND_TEXTS = {
    "choices": _l("choices"),
    "answers": _l("answer lines"),
    "blanks": _l("blanks [[…]]"),
}


def problem_text(problem: ExerciseProblem) -> str:
    """Return an author's mistake in the current language."""
    values = dict(problem.values)
    if "kinds" in values:
        values["kinds"] = reduce(
            lambda first, second: _("%(first)s and %(second)s", first=first, second=second),
            [str(KIND_TEXTS[kind]) for kind in values["kinds"]],
        )
    # The text is translated first, then given the author's words: they are never translated.
    return str(PROBLEM_TEXTS[problem.code]) % values


@dataclass
class Feedback:
    """A checked answer to show with one exercise: its result, or that the exercise changed."""

    result: Result | None
    changed: bool = False


MarkdownRenderer = Callable[[str], str]  # block Markdown -> sanitised HTML
InlineRenderer = Callable[[str], str]  # one line of Markdown -> sanitised inline HTML


def render_exercise(
    block: ExerciseBlock,
    number: int,
    lang: str,
    render_block: MarkdownRenderer,
    render_inline: InlineRenderer,
    corrections: str = "none",
    feedback: Feedback | None = None,
) -> str:
    """Return the HTML of exercise ``number`` of a lesson written in ``lang``."""
    with force_locale(lang):
        if block.exercise is None:
            return _broken(block, number)
        parts = _Parts(block.exercise, number, render_block, render_inline)
        if corrections == "none":
            return parts.form(feedback)
        return parts.printed(corrections)


def answer_key(blocks: list[ExerciseBlock], lang: str, render_block, render_inline) -> str:
    """Return an answer key listing the correction of every exercise, for the end of a page."""
    with force_locale(lang):
        items = []
        for number, block in enumerate(blocks, start=1):
            if block.exercise is None:
                continue
            parts = _Parts(block.exercise, number, render_block, render_inline)
            items.append(f'<li value="{number}">{parts.correction()}</li>')
        if not items:
            return ""
        return (
            f'<section class="answer-key"><h2>{escape(_("Answer key"))}</h2>'
            f'<ol class="answer-key-list">{"".join(items)}</ol></section>'
        )


def _broken(block: ExerciseBlock, number: int) -> str:
    # Only a draft can get here (loaded content is checked first): say what to fix.
    problems = "".join(
        f"<li>{escape(_('line %(line)s', line=problem.line))}: {escape(problem_text(problem))}</li>"
        for problem in block.problems
    )
    return (
        f'<div class="exercise exercise-broken" id="exercise-{number}">'
        f"<p>{escape(_('This exercise has mistakes and cannot be shown:'))}</p>"
        f"<ul>{problems}</ul></div>"
    )


class _Parts:
    def __init__(self, exercise: Exercise, number: int, render_block, render_inline):
        self.exercise = exercise
        self.number = number
        self.render_block = render_block
        self.render_inline = render_inline

    # ------------------------------------------------------------------ pieces

    def title(self) -> str:
        return (
            f'<p class="exercise-title">{escape(_("Exercise %(number)s", number=self.number))}</p>'
        )

    def prompt(self, blank: Callable[[int], str]) -> str:
        text = _PRIVATE.sub("", self.exercise.prompt)
        if self.exercise.kind == "blanks":
            counter = iter(range(1, len(self.exercise.blanks) + 1))
            text = re.sub(r"\[\[.*?\]\]", lambda _m: BLANK_MARK % next(counter), text)
        html = self.render_block(text)
        html = _BLANK_FOUND.sub(lambda m: blank(int(m.group(1))), html)
        return f'<div class="exercise-prompt">{html}</div>'

    def hint(self, opened: bool = False) -> str:
        if not self.exercise.hint:
            return ""
        attribute = " open" if opened else ""
        return (
            f'<details class="exercise-hint"{attribute}><summary>{escape(_("Hint"))}</summary>'
            f"{self.render_block(self.exercise.hint)}</details>"
        )

    def correction(self) -> str:
        answers = expected_answers(self.exercise)
        label = _("Answer:") if len(answers) == 1 else _("Answers:")
        shown = " · ".join(self.render_inline(answer) for answer in answers)
        explanation = (
            self.render_block(self.exercise.explanation) if self.exercise.explanation else ""
        )
        return (
            f'<p class="exercise-answer"><strong>{escape(label)}</strong> {shown}</p>{explanation}'
        )

    # ------------------------------------------------------------------ a pupil's form

    def form(self, feedback: Feedback | None) -> str:
        exercise, number = self.exercise, self.number
        result = feedback.result if feedback and not feedback.changed else None
        given = result.given if result else {}

        def value(name: str) -> str:
            values = given.get(name) or [""]
            return escape(values[0])

        def blank(position: int) -> str:
            name = f"blank-{position}"
            label = _("Blank %(number)s", number=position)
            return (
                f'<input type="text" class="blank" name="{name}" value="{value(name)}" '
                f'aria-label="{escape(label)}" size="10" maxlength="200" autocomplete="off" '
                'autocapitalize="off" spellcheck="false">'
            )

        answer = ""
        if exercise.kind == "choice":
            chosen = set(given.get("answer", []))
            kind = "checkbox" if exercise.several else "radio"
            items = "".join(
                f'<li><label><input type="{kind}" name="answer" value="{position}"'
                f"{' checked' if str(position) in chosen else ''}> "
                f"{self.render_inline(choice.text)}</label></li>"
                for position, choice in enumerate(exercise.choices, start=1)
            )
            note = (
                f'<p class="exercise-note">{escape(_("Several answers may be right."))}</p>'
                if exercise.several
                else ""
            )
            answer = f'{note}<ul class="choices">{items}</ul>'
        elif exercise.kind in ("number", "text"):
            mode = ' inputmode="decimal"' if exercise.kind == "number" else ""
            unit = f' <span class="unit">{escape(exercise.unit)}</span>' if exercise.unit else ""
            answer = (
                f'<p class="exercise-input"><label for="exercise-{number}-answer">'
                f"{escape(_('Your answer'))}</label> "
                f'<input type="text" id="exercise-{number}-answer" name="answer" '
                f'value="{value("answer")}" size="16" maxlength="200" autocomplete="off" '
                f'autocapitalize="off" spellcheck="false"{mode}>{unit}</p>'
            )
        wrong = result is not None and result.status == "wrong" and not result.revealed
        buttons = f'<button type="submit">{escape(_("Check"))}</button>'
        if wrong:
            buttons += (
                f' <button type="submit" name="reveal" value="1" class="secondary">'
                f"{escape(_('Show the correction'))}</button>"
            )
        return (
            f'<form class="exercise" id="exercise-{number}" method="post" '
            f'action="?exercise={number}#exercise-{number}">'
            f'<input type="hidden" name="version" value="{escape(exercise.fingerprint)}">'
            f"{self.title()}{self.prompt(blank)}{answer}"
            f'<p class="exercise-actions">{buttons}</p>'
            f"{self.feedback(feedback)}{self.hint(opened=wrong)}</form>"
        )

    def feedback(self, feedback: Feedback | None) -> str:
        if feedback is None:
            return ""
        if feedback.changed:
            return self._box(
                "invalid", _("This exercise changed since the page was opened: answer it again.")
            )
        result = feedback.result
        assert result is not None
        if result.revealed:
            return self._box("revealed", _("Correction"), self.correction())
        if result.status == "right":
            explanation = (
                self.render_block(self.exercise.explanation) if self.exercise.explanation else ""
            )
            return self._box("right", _("Right!"), explanation)
        if result.status == "wrong":
            message = _("Not yet: try again.")
            if result.parts > 1 and (self.exercise.kind == "blanks" or self.exercise.several):
                message = _(
                    "Not yet: %(right)s of %(parts)s are right. Try again.",
                    right=result.right_parts,
                    parts=result.parts,
                )
            return self._box("wrong", message)
        if result.status == "empty":
            if self.exercise.kind == "choice":
                return self._box("invalid", _("Choose an answer first."))
            return self._box("invalid", _("Write an answer first."))
        messages = {
            "too_long": _("This answer is too long: write a short answer."),
            "not_a_number": _("Write a number, for example 4,8."),
            "unknown_choice": _("This answer is not one of the choices."),
        }
        return self._box("invalid", messages.get(result.reason, _("This answer cannot be read.")))

    def _box(self, status: str, message: str, more: str = "") -> str:
        return (
            f'<div class="feedback feedback-{status}" role="status" aria-live="polite">'
            f"<p><strong>{escape(message)}</strong></p>{more}</div>"
        )

    # ------------------------------------------------------------------ on paper, offline

    def printed(self, corrections: str) -> str:
        exercise = self.exercise

        def blank(position: int) -> str:
            return f'<span class="blank-line" aria-label="{escape(_("Blank %(number)s", number=position))}">{"_" * 12}</span>'

        answer = ""
        if exercise.kind == "choice":
            items = "".join(
                f'<li><span class="box" aria-hidden="true">☐</span> {self.render_inline(c.text)}</li>'
                for c in exercise.choices
            )
            note = (
                f'<p class="exercise-note">{escape(_("Several answers may be right."))}</p>'
                if exercise.several
                else ""
            )
            answer = f'{note}<ul class="choices choices-printed">{items}</ul>'
        elif exercise.kind in ("number", "text"):
            unit = f" {escape(exercise.unit)}" if exercise.unit else ""
            answer = (
                f'<p class="exercise-input">{escape(_("Your answer"))} '
                f'<span class="blank-line">{"_" * 20}</span>{unit}</p>'
            )
        if corrections == "details":
            correction = (
                f'<details class="exercise-correction"><summary>{escape(_("Show the correction"))}'
                f"</summary>{self.correction()}</details>"
            )
        elif corrections == "open":
            correction = (
                f'<div class="exercise-correction"><p class="exercise-correction-title">'
                f"{escape(_('Correction'))}</p>{self.correction()}</div>"
            )
        else:
            correction = ""
        return (
            f'<section class="exercise exercise-printed" id="exercise-{self.number}">'
            f"{self.title()}{self.prompt(blank)}{answer}{self.hint()}{correction}</section>"
        )
