"""Check a pupil's answer to an exercise of a lesson and render the lesson with its feedback.

Nothing is stored: the answer arrives in a form, is checked against the lesson's Markdown
(``sync.exercises``) and goes back in the page. No account, no cookie.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from imaginecole.content.models import Lesson, LessonText, Module
from imaginecole.media.models import Asset
from imaginecole.media.operations import describe
from imaginecole.rendering.exercises import Feedback
from imaginecole.rendering.markdown import ImageInfo, MediaLink, printable, render_markdown
from sync.exercises import MAX_CHOICES, Exercise, Result, check, exercises_of

# A form holds a few short answers; anything bigger is refused while it is read.
MAX_FORM_BYTES = 16 * 1024

# How an asset is shown in a lesson; None leaves its description in its place.
MediaDescriber = Callable[[Asset], ImageInfo | MediaLink | None]


def lesson_with_feedback(module: Module, text: LessonText) -> tuple[str, str] | None:
    """Return (the lesson's HTML, the answered exercise's HTML) for the posted answer.

    None when the address names no exercise of this lesson (the page is then shown as it is).
    """
    number = request.args.get("exercise", type=int)
    blocks = exercises_of(text.markdown)
    if number is None or not 1 <= number <= len(blocks) or blocks[number - 1].exercise is None:
        return None
    feedback = _feedback(blocks[number - 1].exercise)
    by_sha = {asset.sha256: asset for asset in module.assets}
    lookup = {target: describe(by_sha[sha]) for target, sha in text.media.items() if sha in by_sha}
    html = render_markdown(text.markdown, lookup.get, lang=text.lang, feedback={number: feedback})
    # Forms never nest, and authors cannot write one: the first </form> closes this exercise.
    fragment = re.search(f'<form class="exercise" id="exercise-{number}".*?</form>', html, re.S)
    return html, fragment.group(0) if fragment else ""


def lesson_for_paper(
    module: Module, text: LessonText, media: MediaDescriber = describe, *, render: bool = False
) -> str:
    """Return the lesson's HTML for print: each exercise with lines to answer on, and an
    answer key after the lesson, so a teacher with no device for pupils hands out a worksheet.

    ``media`` says how to show each asset on paper; a lesson without exercises keeps the HTML
    rendered at load time unless ``render`` asks for it to be rendered with ``media``.
    """
    if not render and not exercises_of(text.markdown):
        return text.html
    by_sha = {asset.sha256: asset for asset in module.assets}
    lookup = {target: media(by_sha[sha]) for target, sha in text.media.items() if sha in by_sha}
    return render_markdown(text.markdown, lookup.get, lang=text.lang, corrections="key")


def printed_lessons(
    module: Module, lang: str, media: MediaDescriber = describe, *, render: bool = False
) -> list[tuple[Lesson, LessonText, str]]:
    """Return each lesson of a module with its text in ``lang`` and its HTML for paper."""
    return [
        (lesson, text, printable(lesson_for_paper(module, text, media, render=render)))
        for lesson in module.lessons
        for text in [lesson.text_in(lang)]
    ]


def _feedback(exercise: Exercise) -> Feedback:
    request.max_form_memory_size = MAX_FORM_BYTES
    try:
        form = request.form
    except RequestEntityTooLarge:
        return Feedback(Result("invalid", "too_long"))
    if form.get("version") not in (None, exercise.fingerprint):
        return Feedback(None, changed=True)
    values = {name: form.getlist(name)[: MAX_CHOICES + 1] for name in exercise.field_names()}
    result = check(exercise, values)
    result.revealed = form.get("reveal") == "1"
    return Feedback(result)
