"""Exercises in rendered lessons: forms with no answer in them, corrections where asked."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from imaginecole.rendering.exercises import KIND_TEXTS, PROBLEM_TEXTS, Feedback, problem_text
from imaginecole.rendering.markdown import ImageInfo, MediaLink, render_markdown
from sync.exercises import KIND_NAMES, PROBLEM_MESSAGES, ExerciseProblem, Result
from tests.imaginecole.rendering.test_markdown import Elements


@pytest.fixture(autouse=True)
def french(loaded_app):
    """Render inside the app, so the words of forms and players are translated."""
    with loaded_app.app_context():
        yield


LESSON = """# Le Sénégal

```exercice
Quelle est la capitale du **Sénégal** ?

- [ ] Thiès
- [x] Zinguinchorrr
- [ ] Kaolack

indice: Une ville au bord de l'océan.
explication: La bonne réponse est Zinguinchorrr (exemple).
```

```exercice
Combien font $3 \\times 4$ ?
réponse: 1234567
unité: kg
```

```exercice
Le fleuve s'appelle le [[Sénégalissime]].
explication: Un nom inventé pour le test.
```
"""
SECRETS = ("Zinguinchorrr", "1234567", "Sénégalissime", "exemple", "nom inventé")


def test_the_pupils_page_holds_no_answer():
    html = render_markdown(LESSON, lang="fr")
    assert html.count('<form class="exercise"') == 3
    for secret in SECRETS[1:]:
        assert secret not in html, secret
    # The choice's text is shown (it is one of the options), but nothing marks it right.
    assert "Zinguinchorrr" in html and "checked" not in html and "correct" not in html
    assert 'action="?exercise=2#exercise-2"' in html
    assert "<math" in html  # the question's formula is rendered like the lesson's
    assert "<strong>Sénégal</strong>" in html
    assert "Une ville au bord" in html  # the hint is there, folded


@pytest.mark.parametrize("mode", ["details", "open", "key"])
def test_corrections_for_paper_offline_and_teachers(mode):
    html = render_markdown(LESSON, lang="fr", corrections=mode)
    assert "<form" not in html and "<input" not in html
    assert "1234567 kg" in html and "Sénégalissime" in html and "Un nom inventé" in html
    if mode == "details":
        assert html.count('<details class="exercise-correction">') == 3
    if mode == "key":
        assert html.index('class="answer-key"') > html.rindex('class="exercise exercise-printed"')


def test_feedback_shows_the_answer_only_when_right_or_asked():
    right = render_markdown(
        LESSON,
        lang="fr",
        feedback={2: Feedback(Result("right", given={"answer": ["1234567"]}))},
    )
    assert 'class="feedback feedback-right"' in right and 'value="1234567"' in right
    wrong = render_markdown(
        LESSON, lang="fr", feedback={3: Feedback(Result("wrong", given={"blank-1": ["x"]}))}
    )
    assert "Sénégalissime" not in wrong and 'name="reveal"' in wrong
    revealed = render_markdown(
        LESSON, lang="fr", feedback={3: Feedback(Result("wrong", revealed=True))}
    )
    assert "Sénégalissime" in revealed


def test_an_answer_shown_again_is_escaped():
    hostile = '"><script>alert(1)</script>'
    html = render_markdown(
        LESSON, lang="fr", feedback={2: Feedback(Result("wrong", given={"answer": [hostile]}))}
    )
    assert "<script>" not in html
    assert "&quot;&gt;&lt;script&gt;" in html or "&#x27;" in html or "&quot;" in html


def test_a_broken_exercise_says_what_to_fix():
    html = render_markdown("# T\n\n```exercice\nQuestion ?\n```\n", lang="fr")
    assert 'class="exercise exercise-broken"' in html and "pas de réponse" in html
    assert "<form" not in html


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_every_exercise_problem_is_translated(lang):
    with force_locale(lang):
        for code in PROBLEM_MESSAGES:
            assert code in PROBLEM_TEXTS, code
            values = {"key": "k", "word": "w", "value": "v", "marker": "```", "most": 3}
            values |= {"kinds": ("choices", "answers", "blanks")} if code == "mixed_kinds" else {}
            problem = ExerciseProblem(4, code, values)
            assert problem_text(problem) != problem.message, code
        assert set(PROBLEM_TEXTS) == set(PROBLEM_MESSAGES)
        for kind, english in KIND_NAMES.items():
            assert str(KIND_TEXTS[kind]) != english, kind


def test_the_author_words_in_a_problem_are_escaped_and_not_translated():
    markdown = "```exercice\nQuestion ?\nréponse: <b>x</b>\ntype: nombre\n```\n"
    html = render_markdown(markdown, lang="fr")
    assert "« &lt;b&gt;x&lt;/b&gt; » n’est pas un nombre" in html and "<b>x" not in html


def test_mixed_kinds_of_answer_are_named_in_the_lesson_language():
    markdown = "```exercice\nQuestion [[a]] ?\n- [x] a\n- [ ] b\nréponse: a\n```\n"
    html = render_markdown(markdown, lang="fr")
    assert "mélange des choix et des lignes réponse: et des trous [[…]]" in html


def test_author_markup_in_an_exercise_stays_inert():
    markdown = (
        "```exercice\n<script>alert(1)</script> [x](javascript:alert(1)) ?\n"
        "- [x] <img src=x onerror=alert(1)>\n- [ ] b\n```\n"
    )
    found = Elements(render_markdown(markdown, lang="fr"))
    assert not found.names() & {"script", "img", "iframe", "style"}
    for tag, attrs in found.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").lower().startswith("javascript:"), (tag, value)


def test_players_load_nothing_and_offer_the_file_with_captions_and_poster():
    media = {
        "media/clip.webm": MediaLink("/media/v.webm", "video/webm", 2_345_678),
        "media/clip.vtt": MediaLink("/media/c.vtt", "text/vtt", 40),
        "media/clip.jpg": ImageInfo("/media/p.jpg", 640, 360),
        "media/son.ogg": MediaLink("/media/s.ogg", "audio/ogg", 5_000),
    }
    html = render_markdown(
        "![Une pirogue](media/clip.webm)\n\n![Le son](media/son.ogg)", media.get, lang="fr"
    )
    assert html.count('preload="none"') == 2
    assert 'poster="/media/p.jpg"' in html
    assert '<track kind="captions" src="/media/c.vtt" srclang="fr"' in html
    assert "Télécharger (WEBM, 2,3 Mo)" in html
    assert html.count('download=""') >= 4  # a link in each player and under each
    assert html.count("<track") == 1  # the audio has no captions file
