"""Exercises in lesson Markdown: reading every kind, authors' mistakes, checking pupils' answers."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from sync.exercises import (
    MAX_ANSWER_CHARS,
    check,
    exercise_problems,
    exercises_of,
    expected_answers,
    parse_number,
    split_lesson,
)

LESSON = """# L'eau

Un texte.

```exercice
Que devient l'eau d'une flaque au soleil ?

- [ ] Elle disparaît.
- [x] Elle s'évapore.
- [ ] Elle devient du sable.

indice: Pense aux nuages.
explication: La chaleur la transforme
  en vapeur.
```

```exercise
Which are part of the water cycle?
- [x] evaporation
- [x] rain
- [ ] solar wind
```

```exercice
Combien reste-t-il dans le seau ?
réponse: 4,5
tolérance: 0,05
unité: L
```

```exercice
Capitale du Sénégal ?
réponse: Dakar
tolérer: accents, majuscules
```

```exercice
L'eau [[s'évapore]] puis forme des [[nuages|nuage]] ; il y a [[3]] états.
```

````markdown
```exercice
Only an example in a code block: not an exercise.
```
````
"""


def blocks():
    return exercises_of(LESSON)


def test_a_lesson_is_cut_into_text_and_exercises_in_order():
    segments = split_lesson(LESSON)
    kinds = [type(s).__name__ for s in segments]
    assert kinds.count("ExerciseBlock") == 5
    assert isinstance(segments[0], str) and segments[0].startswith("# L'eau")
    assert "Only an example" in segments[-1]  # the fenced example stays Markdown
    found = blocks()
    assert [b.exercise.kind for b in found] == ["choice", "choice", "number", "text", "blanks"]
    assert [b.line for b in found] == [5, 17, 24, 31, 37]
    assert exercise_problems(LESSON) == []


def test_every_part_of_an_exercise_is_read():
    choice, several, number, text, blanks = (b.exercise for b in blocks())
    assert choice.prompt == "Que devient l'eau d'une flaque au soleil ?"
    assert [c.correct for c in choice.choices] == [False, True, False]
    assert not choice.several and several.several
    assert choice.hint == "Pense aux nuages."
    assert "en vapeur" in choice.explanation  # an indented line continues the explanation
    assert number.answers == ["4,5"] and number.tolerance == Fraction(1, 20)
    assert number.unit == "L"
    assert text.forgive_accents and text.forgive_case
    assert blanks.blanks == [["s'évapore"], ["nuages", "nuage"], ["3"]]
    assert blanks.field_names() == ["blank-1", "blank-2", "blank-3"]
    assert expected_answers(number) == ["4,5 L"]
    assert expected_answers(several) == ["evaporation", "rain"]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("4,8", Fraction(48, 10)),
        ("4.8", Fraction(48, 10)),
        (" 4,8 ", Fraction(48, 10)),
        ("1 200", Fraction(1200)),
        ("1\u202f200,5", Fraction(24010, 20)),
        ("\u22123", Fraction(-3)),
        ("3/4", Fraction(3, 4)),
        ("٢٫٥", Fraction(5, 2)),
        ("١٢", Fraction(12)),
        (",5", Fraction(1, 2)),
        ("1/0", None),
        ("4,8,1", None),
        ("douze", None),
        ("", None),
        ("1e9", None),
    ],
)
def test_numbers_are_read_as_pupils_write_them(written, value):
    assert parse_number(written) == value


def test_choice_right_wrong_empty_and_malformed():
    exercise = blocks()[0].exercise
    assert check(exercise, {"answer": ["2"]}).status == "right"
    assert check(exercise, {"answer": ["1"]}).status == "wrong"
    assert check(exercise, {"answer": []}).status == "empty"
    assert check(exercise, {}).status == "empty"
    for bad in (["9"], ["0"], ["-1"], ["deux"], ["<b>2</b>"], ["1", "2"]):
        result = check(exercise, {"answer": bad})
        assert (result.status, result.reason) == ("invalid", "unknown_choice"), bad


def test_several_choices_must_all_be_right():
    exercise = blocks()[1].exercise
    assert check(exercise, {"answer": ["1", "2"]}).status == "right"
    result = check(exercise, {"answer": ["1"]})
    assert result.status == "wrong" and (result.right_parts, result.parts) == (2, 3)
    assert check(exercise, {"answer": ["1", "2", "3"]}).status == "wrong"
    assert check(exercise, {"answer": ["1"] * 500}).reason == "unknown_choice"


def test_numbers_with_tolerance_unit_and_decimal_comma():
    exercise = blocks()[2].exercise
    for right in ("4,5", "4.5", "4,52", "4,45", "4,5 L", "4,5l", " 4,50 "):
        assert check(exercise, {"answer": [right]}).status == "right", right
    for wrong in ("4,6", "45", "-4,5", "9/2 L" and "4,56"):
        assert check(exercise, {"answer": [wrong]}).status == "wrong", wrong
    assert check(exercise, {"answer": ["9/2"]}).status == "right"
    assert check(exercise, {"answer": ["  "]}).status == "empty"
    for malformed in ("quatre", "4,5 kg", "<script>alert(1)</script>", "4,5\x00"):
        result = check(exercise, {"answer": [malformed]})
        if malformed == "4,5\x00":  # control characters are dropped, not obeyed
            assert result.status == "right"
        else:
            assert (result.status, result.reason) == ("invalid", "not_a_number"), malformed


def test_text_answers_forgive_only_what_the_author_allows():
    forgiving = blocks()[3].exercise
    for right in ("Dakar", "dakar", "DAKAR", "  Dakar. ", "Dâkar"):
        assert check(forgiving, {"answer": [right]}).status == "right", right
    assert check(forgiving, {"answer": ["Thiès"]}).status == "wrong"
    strict = exercises_of("```exercice\nCapitale ?\nréponse: Thiès\n```\n")[0].exercise
    assert check(strict, {"answer": ["Thiès"]}).status == "right"
    assert check(strict, {"answer": ["Thies"]}).status == "wrong"
    assert check(strict, {"answer": ["thiès"]}).status == "wrong"
    # A curly apostrophe typed on a phone is the straight one the author wrote.
    apostrophe = exercises_of("```exercice\nQui ?\nréponse: l'eau\n```\n")[0].exercise
    assert check(apostrophe, {"answer": ["l’eau"]}).status == "right"


def test_arabic_answers_forgive_short_vowels_when_accents_are_forgiven():
    markdown = "```exercise\nما عاصمة مصر؟\nanswer: القاهرة\nforgive: accents\n```\n"
    exercise = exercises_of(markdown)[0].exercise
    assert check(exercise, {"answer": ["القَاهِرَة"]}).status == "right"
    assert check(exercise, {"answer": ["دمشق"]}).status == "wrong"


def test_blanks_are_each_checked():
    exercise = blocks()[4].exercise
    answers = {"blank-1": ["s'évapore"], "blank-2": ["nuage"], "blank-3": ["3,0"]}
    assert check(exercise, answers).status == "right"
    result = check(exercise, {"blank-1": ["s'évapore"], "blank-2": ["pluie"], "blank-3": [""]})
    assert result.status == "wrong" and (result.right_parts, result.parts) == (1, 3)
    assert check(exercise, {"blank-1": [""], "blank-2": [""]}).status == "empty"


@pytest.mark.parametrize("index", range(5))
def test_hostile_answers_are_refused_or_harmless(index):
    exercise = blocks()[index].exercise
    name = exercise.field_names()[0]
    huge = check(exercise, {name: ["x" * 1_000_000]})
    assert (huge.status, huge.reason, huge.given) == ("invalid", "too_long", {})
    assert check(exercise, {name: ["x" * (MAX_ANSWER_CHARS + 1)]}).reason == "too_long"
    html = check(exercise, {name: ['<img src=x onerror="alert(1)">']})
    assert html.status in ("wrong", "invalid")
    control = check(exercise, {name: ["\x00\x1b[31m\u202e\u200b"]})
    assert control.status in ("empty", "invalid", "wrong")
    assert all("\x00" not in v and "\u202e" not in v for vs in control.given.values() for v in vs)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("- [x] oui\n- [ ] non", 2, "no question"),
        ("Question ?", 2, "no answer"),
        ("Question ?\n- [ ] a\n- [ ] b", 4, "no choice is marked right"),
        ("Question ?\n- [x] a", 4, "at least two choices"),
        ("Question ?\n- [x] a\n- [ ] b\nréponse: a", 2, "mixes choices and answer lines"),
        ("Question ?\nréponse: 3\ntolérance: beaucoup", 5, "tolérance:"),
        ("Question ?\nréponse: Dakar\nunité: kg", 5, "only a numeric answer"),
        ("Question ?\nréponse: 3\ntype: couleur", 5, "not known"),
        ("Question ?\nréponse: trois\ntype: nombre", 5, "not a number"),
        ("Question ?\nréponse: a\ntolérer: fautes", 5, "fautes"),
        ("Question ?\nréponse:", 4, "réponse: the answer is empty"),
        ("Question ?\nréponse: 3\nindice: a\nindice: b", 6, "twice"),
        ("Question ?\nréponse: 3\nune ligne perdue", 5, "belongs to no part"),
        ("Il [[]] pleut.", 3, "empty answer"),
        ("Il [[pleut.", 3, "not closed"),
    ],
)
def test_authors_mistakes_name_the_line(body, line, words):
    markdown = f"# Titre\n```exercice\n{body}\n```\n"
    problems = exercise_problems(markdown)
    assert problems, body
    assert any(p.line == line and words in p.message for p in problems), problems
    assert exercises_of(markdown)[0].exercise is None  # nothing half-read


def test_an_unclosed_exercise_is_a_problem_at_its_first_line():
    problems = exercise_problems("# Titre\n\n```exercice\nQuestion ?\nréponse: 3\n")
    assert [(p.line, p.message) for p in problems] == [
        (3, "the exercise is not closed: end it with a line ```")
    ]


def test_the_examples_of_the_authors_guide_are_valid():
    guide = (Path(__file__).parents[2] / "content" / "README.md").read_text()
    examples = re.findall(r"````markdown\n(```exerci[cs]e\n.*?\n```)\n````", guide, re.S)
    assert len(examples) >= 4
    for example in examples:
        assert exercise_problems(example) == [], example
        assert exercises_of(example)[0].exercise is not None


def test_every_sample_country_has_exercises_and_a_lesson_with_sound_or_video():
    from sync.content import read_content

    tree = read_content(Path(__file__).parents[2] / "content")
    assert not tree.problems, tree.problems
    countries = {module.country for module in tree.modules}
    assert len(countries) >= 10
    for country in countries:
        modules = [m for m in tree.modules if m.country == country]
        texts = [(m, t) for m in modules for lesson in m.lessons for t in lesson.texts.values()]
        exercises = [b for _, t in texts for b in exercises_of(t.markdown)]
        assert len(exercises) >= 3 and all(b.exercise for b in exercises), country
        players = [
            (module, text, target)
            for module, text in texts
            for target, sha in text.media.items()
            if module.blobs[sha].media_type.startswith(("audio/", "video/"))
        ]
        assert players, f"{country} has no lesson with sound or video"
        for module, text, target in players:
            assert module.blobs[text.media[target]].size < 200_000  # small: pupils pay for data
            captions = target.rsplit(".", 1)[0] + ".vtt"
            assert captions in text.media, f"{target} has no captions"
