"""Exercises written in lesson Markdown: find them, read them, check a pupil's answer.

An exercise is a fenced block whose info string is ``exercise`` (or ``exercice``), opened at the
start of a line (so it is never inside a list or an admonition)::

    ```exercice
    Combien font $3 \\times 4$ ?
    réponse: 12
    indice: Compte 4 fois 3.
    explication: $3 \\times 4 = 12$.
    ```

The format is in ``content/README.md``. Reading and checking are pure functions with no Flask:
the validator, the bundle builder and the app all use them, so every place agrees on where the
exercises of a lesson are and what counts as a right answer.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sync.markdown import EXERCISE_OPENING as OPENING
from sync.markdown import Fences

CHOICE = re.compile(r"^\s*[-*+]\s+\[(?P<mark>[ xX])\]\s+(?P<text>.*\S)\s*$")
FIELD = re.compile(r"^(?P<key>[^\W\d_]+(?:[ -][^\W\d_]+)?)\s*:\s*(?P<value>.*?)\s*$")
BLANK = re.compile(r"\[\[(.*?)\]\]")

# Authors write in French or English; every key has both names.
KEYS = {
    "answer": "answer",
    "réponse": "answer",
    "reponse": "answer",
    "tolerance": "tolerance",
    "tolérance": "tolerance",
    "unit": "unit",
    "unité": "unit",
    "unite": "unit",
    "forgive": "forgive",
    "tolérer": "forgive",
    "tolerer": "forgive",
    "hint": "hint",
    "indice": "hint",
    "explanation": "explanation",
    "explication": "explanation",
    "type": "type",
}
TYPES = {"text": "text", "texte": "text", "number": "number", "nombre": "number"}
FORGIVABLE = {
    "accents": "accents",
    "case": "case",
    "majuscules": "case",
    "capitals": "case",
}
MULTILINE = ("hint", "explanation")

# A pupil's answer longer than this is refused unread (nobody types 200 characters in a box).
MAX_ANSWER_CHARS = 200
MAX_CHOICES = 20
MAX_BLANKS = 30


@dataclass(frozen=True)
class Choice:
    text: str  # Markdown
    correct: bool


@dataclass
class Exercise:
    """One exercise as its author wrote it: the question, what is right, the hint and explanation.

    ``kind`` is ``choice`` (one or ``several`` right choices), ``number`` (``answers[0]`` within
    ``tolerance``, ``unit`` shown beside the box), ``text`` (any of ``answers``) or ``blanks``
    (``prompt`` holds one ``[[]]`` per blank, ``blanks`` the accepted answers of each).
    """

    kind: str
    prompt: str
    line: int
    fingerprint: str
    choices: list[Choice] = field(default_factory=list)
    several: bool = False
    answers: list[str] = field(default_factory=list)
    tolerance: Fraction = Fraction(0)
    unit: str = ""
    blanks: list[list[str]] = field(default_factory=list)
    forgive_accents: bool = False
    forgive_case: bool = False
    hint: str = ""
    explanation: str = ""

    def field_names(self) -> list[str]:
        """Return the names of the form fields a pupil fills in."""
        if self.kind == "blanks":
            return [f"blank-{n}" for n in range(1, len(self.blanks) + 1)]
        return ["answer"]


# What each problem code means, in English for the command line and the validator; the web
# pages translate the code with its values (``imaginecole.rendering.exercises``).
PROBLEM_MESSAGES = {
    "not_closed": "the exercise is not closed: end it with a line {marker}",
    "written_twice": '"{key}:" is written twice',
    "stray_line": (
        "this line belongs to no part of the exercise: put the question first, then the choices "
        "or answer:, hint: and explanation: lines"
    ),
    "no_question": "the exercise has no question: write it first",
    "unknown_forgive": (
        '{key}: "{word}" is not known (write accents, case or both; in French: accents, majuscules)'
    ),
    "empty_blank": "a blank [[…]] has an empty answer",
    "unclosed_blank": "a blank is not closed: write [[answer]] on one line",
    "mixed_kinds": "the exercise mixes {kinds}: keep one kind of answer",
    "no_answer": (
        'the exercise has no answer: add choices ("- [x] right", "- [ ] wrong"), an "answer:" '
        "line or blanks written [[answer]] in the question"
    ),
    "tolerance_not_numeric": "{key}: only a numeric answer has a tolerance",
    "unit_not_numeric": "{key}: only a numeric answer has a unit",
    "choice_type": "type: a multiple-choice question has no type",
    "too_few_choices": "a multiple-choice question needs at least two choices",
    "too_many_choices": "at most {most} choices",
    "no_right_choice": 'no choice is marked right: write "- [x]" before it',
    "empty_answer": "{key}: the answer is empty",
    "answer_too_long": "{key}: longer than {most} characters",
    "unknown_type": 'type: "{word}" is not known (write text or number; texte, nombre)',
    "not_a_number": '"{value}" is not a number (write 4,8 or 4.8 or 3/4)',
    "numeric_answer_twice": "a numeric answer is written once",
    "bad_tolerance": '{key}: "{value}" is not a number of zero or more',
    "blanks_type": "type: blanks have no type",
    "too_many_blanks": "at most {most} blanks in one exercise",
}
# The kinds of answer ``mixed_kinds`` names, in the order of its ``kinds`` value.
KIND_NAMES = {"choices": "choices", "answers": "answer lines", "blanks": "blanks [[…]]"}


@dataclass(frozen=True)
class ExerciseProblem:
    """A mistake in an exercise: its line, a code of ``PROBLEM_MESSAGES`` and the values it names.

    Values are strings or numbers, except ``kinds`` (a tuple of ``KIND_NAMES`` keys).
    """

    line: int
    code: str
    values: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Return the problem in English."""
        values = dict(self.values)
        if "kinds" in values:
            values["kinds"] = " and ".join(KIND_NAMES[kind] for kind in values["kinds"])
        return PROBLEM_MESSAGES[self.code].format(**values)


@dataclass
class ExerciseBlock:
    """An exercise block of a lesson: its lines, and the exercise or what is wrong with it."""

    line: int  # the opening fence's line (1-based)
    body: str
    exercise: Exercise | None
    problems: list[ExerciseProblem]


Segment = str | ExerciseBlock


def split_lesson(markdown: str) -> list[Segment]:
    """Cut a lesson into Markdown text and exercise blocks, in order.

    A fence inside ordinary fenced code (an example in a code block) is not an exercise.
    """
    segments: list[Segment] = []
    lines = markdown.split("\n")
    fences = Fences()
    text: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = OPENING.match(line) if not fences.fence else None
        if opening is None:
            fences.is_code(line)
            text.append(line)
            index += 1
            continue
        marker = opening["fence"]
        end = index + 1
        while end < len(lines) and not _closes(lines[end], marker):
            end += 1
        body_lines = lines[index + 1 : end]
        if text:
            segments.append("\n".join(text))
            text = []
        if end == len(lines):
            problems = [ExerciseProblem(index + 1, "not_closed", {"marker": marker})]
            segments.append(ExerciseBlock(index + 1, "\n".join(body_lines), None, problems))
        else:
            segments.append(read_exercise("\n".join(body_lines), index + 2))
        index = end + 1
    if text:
        segments.append("\n".join(text))
    return segments


def _closes(line: str, marker: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and stripped.startswith(marker)
        and set(stripped) == {marker[0]}
    )


def exercises_of(markdown: str) -> list[ExerciseBlock]:
    """Return the exercise blocks of a lesson, numbered from 1 in this order on the page."""
    return [segment for segment in split_lesson(markdown) if isinstance(segment, ExerciseBlock)]


def exercise_problems(markdown: str) -> list[ExerciseProblem]:
    """Return every mistake in the lesson's exercises, by line."""
    return [problem for block in exercises_of(markdown) for problem in block.problems]


# ---------------------------------------------------------------------------- reading one exercise


def read_exercise(body: str, first_line: int) -> ExerciseBlock:
    """Read the lines of one exercise block; ``first_line`` is the line number of its first line."""
    problems: list[ExerciseProblem] = []
    prompt: list[str] = []
    choices: list[tuple[int, Choice]] = []
    values: dict[str, list[tuple[int, str]]] = {}
    written: dict[str, str] = {}  # each key as the author wrote it, to name it in a problem
    current: str | None = None  # the multi-line field that continuation lines extend
    started = False  # the question ends at the first field or choice
    for number, line in enumerate(body.split("\n"), start=first_line):
        choice = CHOICE.match(line)
        found = FIELD.match(line)
        key = KEYS.get(found["key"].lower()) if found else None
        if choice:
            started, current = True, None
            choices.append((number, Choice(choice["text"], choice["mark"] != " ")))
        elif key:
            started = True
            values.setdefault(key, []).append((number, found["value"]))
            written.setdefault(key, found["key"])
            current = key if key in MULTILINE else None
            if key != "answer" and len(values[key]) > 1:
                problems.append(ExerciseProblem(number, "written_twice", {"key": found["key"]}))
        elif not started:
            prompt.append(line)
        elif current:
            values[current][-1] = (values[current][-1][0], values[current][-1][1] + "\n" + line)
        elif line.strip():
            problems.append(ExerciseProblem(number, "stray_line"))
    block = ExerciseBlock(first_line - 1, body, None, problems)
    question = "\n".join(prompt).strip()
    if not question:
        problems.append(ExerciseProblem(first_line - 1, "no_question"))

    def single(key: str) -> tuple[int, str]:
        return values[key][0] if key in values else (first_line - 1, "")

    hint, explanation = single("hint")[1].strip(), single("explanation")[1].strip()
    forgive_accents = forgive_case = False
    if "forgive" in values:
        line, value = single("forgive")
        for word in filter(None, re.split(r"[\s,;]+", value.lower())):
            if FORGIVABLE.get(word) == "accents":
                forgive_accents = True
            elif FORGIVABLE.get(word) == "case":
                forgive_case = True
            else:
                problems.append(
                    ExerciseProblem(
                        line, "unknown_forgive", {"key": written["forgive"], "word": word}
                    )
                )
    blanks = [
        [alt.strip() for alt in match.group(1).split("|")] for match in BLANK.finditer(question)
    ]
    for number, line in enumerate(prompt, start=first_line):
        for match in BLANK.finditer(line):
            if not all(alt.strip() for alt in match.group(1).split("|")):
                problems.append(ExerciseProblem(number, "empty_blank"))
        if "[[" in BLANK.sub("", line) or "]]" in BLANK.sub("", line):
            problems.append(ExerciseProblem(number, "unclosed_blank"))
    answers = values.get("answer", [])
    kinds = tuple(name for name, used in (("choices", choices), ("answers", answers), ("blanks", blanks)) if used)  # fmt: skip
    if len(kinds) > 1:
        problems.append(ExerciseProblem(first_line - 1, "mixed_kinds", {"kinds": kinds}))
    elif not kinds:
        problems.append(ExerciseProblem(first_line - 1, "no_answer"))
    fingerprint = hashlib.sha256(body.encode()).hexdigest()[:12]
    common = dict(
        prompt=question,
        line=first_line - 1,
        fingerprint=fingerprint,
        forgive_accents=forgive_accents,
        forgive_case=forgive_case,
        hint=hint,
        explanation=explanation,
    )
    exercise: Exercise | None = None
    if choices and not answers and not blanks:
        exercise = _choice_exercise(choices, values, problems, common)
    elif answers and not choices and not blanks:
        exercise = _answer_exercise(answers, values, written, problems, common)
    elif blanks and not choices and not answers:
        exercise = _blanks_exercise(blanks, values, problems, common, first_line)
    for key in ("tolerance", "unit"):
        if key in values and (exercise is None or exercise.kind != "number"):
            problems.append(
                ExerciseProblem(values[key][0][0], f"{key}_not_numeric", {"key": written[key]})
            )
    block.problems = sorted(problems, key=lambda problem: (problem.line, problem.message))
    block.exercise = exercise if not problems else None
    return block


def _choice_exercise(choices, values, problems, common) -> Exercise | None:
    if "type" in values:
        problems.append(ExerciseProblem(values["type"][0][0], "choice_type"))
    if len(choices) < 2:
        problems.append(ExerciseProblem(choices[0][0], "too_few_choices"))
    if len(choices) > MAX_CHOICES:
        problems.append(
            ExerciseProblem(choices[MAX_CHOICES][0], "too_many_choices", {"most": MAX_CHOICES})
        )
    right = [choice for _, choice in choices if choice.correct]
    if not right:
        problems.append(ExerciseProblem(choices[0][0], "no_right_choice"))
    return Exercise(
        kind="choice",
        choices=[choice for _, choice in choices],
        several=len(right) > 1,
        **common,
    )


def _answer_exercise(answers, values, written, problems, common) -> Exercise | None:
    for line, value in answers:
        if not value:
            problems.append(ExerciseProblem(line, "empty_answer", {"key": written["answer"]}))
        elif len(value) > MAX_ANSWER_CHARS:
            problems.append(
                ExerciseProblem(
                    line, "answer_too_long", {"key": written["answer"], "most": MAX_ANSWER_CHARS}
                )
            )
    kind = "number" if all(parse_number(value) is not None for _, value in answers) else "text"
    if "type" in values:
        line, chosen_word = values["type"][0]
        chosen = TYPES.get(chosen_word.lower())
        if chosen is None:
            problems.append(ExerciseProblem(line, "unknown_type", {"word": chosen_word}))
        elif chosen == "number" and kind == "text":
            bad = next(value for _, value in answers if parse_number(value) is None)
            problems.append(ExerciseProblem(line, "not_a_number", {"value": bad}))
        else:
            kind = chosen
    tolerance = Fraction(0)
    if kind == "number":
        if len(answers) > 1:
            problems.append(ExerciseProblem(answers[1][0], "numeric_answer_twice"))
        if "tolerance" in values:
            line, tolerance_text = values["tolerance"][0]
            parsed = parse_number(tolerance_text)
            if parsed is None or parsed < 0:
                problems.append(
                    ExerciseProblem(
                        line,
                        "bad_tolerance",
                        {"key": written["tolerance"], "value": tolerance_text},
                    )
                )
            else:
                tolerance = parsed
    unit = values["unit"][0][1] if kind == "number" and "unit" in values else ""
    return Exercise(
        kind=kind,
        answers=[value for _, value in answers],
        tolerance=tolerance,
        unit=unit,
        **common,
    )


def _blanks_exercise(blanks, values, problems, common, first_line) -> Exercise | None:
    if "type" in values:
        problems.append(ExerciseProblem(values["type"][0][0], "blanks_type"))
    if len(blanks) > MAX_BLANKS:
        problems.append(ExerciseProblem(first_line, "too_many_blanks", {"most": MAX_BLANKS}))
    return Exercise(kind="blanks", blanks=blanks, **common)


# ---------------------------------------------------------------------------- a pupil's answer


@dataclass
class Result:
    """What the checker found: ``status`` is right, wrong, empty or invalid.

    ``reason`` says why an answer is invalid (too_long, not_a_number, unknown_choice,
    wrong_unit); ``right_parts`` of ``parts`` counts right blanks or choices. ``given`` holds
    the pupil's answer, cleaned, to show it again.
    """

    status: str
    reason: str = ""
    right_parts: int = 0
    parts: int = 1
    given: dict[str, list[str]] = field(default_factory=dict)
    revealed: bool = False


def clean_answer(value: str) -> str:
    """Return what a pupil typed without control or invisible characters, spaces collapsed."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in value
        if unicodedata.category(ch) not in ("Cf", "Cs", "Co", "Cn")
    )
    return " ".join(value.split())


def fold(text: str, accents: bool, case: bool) -> str:
    """Return the form of ``text`` compared with an expected answer."""
    text = clean_answer(text)
    text = re.sub(r"[’‘ʼ`´]", "'", text)  # phones type a curly apostrophe
    text = text.rstrip(".!;").strip()
    if accents:
        # Drops French accents and the short vowels (harakat) of Arabic alike.
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
    if case:
        text = text.casefold()
    return text


# Arabic-Indic and Persian digits, the Arabic decimal and thousands separators, as Western ones.
_DIGITS = str.maketrans(
    {**{0x0660 + n: str(n) for n in range(10)}, **{0x06F0 + n: str(n) for n in range(10)},
     0x066B: ",", 0x066C: " "}
)  # fmt: skip
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)$")
_FRACTION = re.compile(r"^[+-]?[0-9]+/[0-9]+$")


def parse_number(text: str, unit: str = "") -> Fraction | None:
    """Read a number as pupils write it: "4,8", "4.8", "1 200", "-3", "3/4" (and the unit)."""
    text = clean_answer(text.translate(_DIGITS)).replace("\u2212", "-")
    if unit:
        folded, folded_unit = fold(text, True, True), fold(unit, True, True)
        if folded.endswith(folded_unit) and len(folded) > len(folded_unit):
            text = text[: len(text) - len(unit)].strip()
    # Thousands written with a space ("1 200", "1 200 000"), never with a comma: that is decimal.
    text = re.sub(r"(?<=\d)[ '](?=\d{3}(?!\d))", "", text)
    if _NUMBER.match(text):
        return Fraction(text.replace(",", "."))
    if _FRACTION.match(text):
        numerator, denominator = text.split("/")
        if int(denominator) != 0:
            return Fraction(int(numerator), int(denominator))
    return None


def _same_text(given: str, accepted: Sequence[str], exercise: Exercise) -> bool:
    wanted = [fold(a, exercise.forgive_accents, exercise.forgive_case) for a in accepted]
    if all(parse_number(a) is not None for a in accepted):
        number = parse_number(given)
        return number is not None and any(number == parse_number(a) for a in accepted)
    return fold(given, exercise.forgive_accents, exercise.forgive_case) in wanted


def check(exercise: Exercise, form: Mapping[str, Sequence[str]]) -> Result:
    """Return what the pupil's answer is worth; ``form`` maps a field name to its values."""
    raw = {name: list(form.get(name, ())) for name in exercise.field_names()}
    if any(len(value) > MAX_ANSWER_CHARS for values in raw.values() for value in values):
        return Result("invalid", "too_long", given={})
    if any(len(values) > MAX_CHOICES for values in raw.values()):
        return Result("invalid", "unknown_choice", given={})
    given = {name: [clean_answer(v) for v in values] for name, values in raw.items()}
    if exercise.kind == "choice":
        return _check_choice(exercise, given)
    if exercise.kind == "blanks":
        values = [(given[name] or [""])[0] for name in exercise.field_names()]
        if not any(values):
            return Result("empty", parts=len(values), given=given)
        right = sum(
            bool(value) and _same_text(value, accepted, exercise)
            for value, accepted in zip(values, exercise.blanks, strict=True)
        )
        status = "right" if right == len(values) else "wrong"
        return Result(status, right_parts=right, parts=len(values), given=given)
    value = (given["answer"] or [""])[0]
    if not value:
        return Result("empty", given=given)
    if exercise.kind == "number":
        number = parse_number(value, exercise.unit)
        if number is None:
            return Result("invalid", "not_a_number", given=given)
        expected = parse_number(exercise.answers[0])
        right = expected is not None and abs(number - expected) <= exercise.tolerance
        return Result("right" if right else "wrong", right_parts=int(right), given=given)
    right = _same_text(value, exercise.answers, exercise)
    return Result("right" if right else "wrong", right_parts=int(right), given=given)


def _check_choice(exercise: Exercise, given: dict[str, list[str]]) -> Result:
    values = given["answer"]
    if not values or not any(values):
        return Result("empty", parts=len(exercise.choices), given=given)
    chosen = set()
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= len(exercise.choices):
            return Result("invalid", "unknown_choice", given={})
        chosen.add(int(value))
    if not exercise.several and len(chosen) > 1:
        return Result("invalid", "unknown_choice", given={})
    right = sum(
        (position in chosen) == choice.correct
        for position, choice in enumerate(exercise.choices, start=1)
    )
    status = "right" if right == len(exercise.choices) else "wrong"
    return Result(status, right_parts=right, parts=len(exercise.choices), given=given)


def expected_answers(exercise: Exercise) -> list[str]:
    """Return the right answers as a reader would write them (for corrections)."""
    if exercise.kind == "choice":
        return [choice.text for choice in exercise.choices if choice.correct]
    if exercise.kind == "blanks":
        return [" / ".join(accepted) for accepted in exercise.blanks]
    if exercise.kind == "number":
        return [f"{exercise.answers[0]} {exercise.unit}".strip()]
    return list(exercise.answers)
