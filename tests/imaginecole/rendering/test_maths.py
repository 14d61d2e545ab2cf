"""Formulas read right with MathML and without it, on a phone, in both directions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import imaginecole
from imaginecole.rendering.markdown import render_markdown
from tests.imaginecole.rendering.test_markdown import Elements, assert_inert

STYLE = Path(imaginecole.__file__).parent / "static" / "style.css"


def fallback_text(html: str) -> list[str]:
    """The linear text of each formula, as a browser without MathML shows it."""
    found = re.findall(r'<span class="math-text">(.*?)</span></span>', html, re.S)
    return [Elements(text).text for text in found]


def numbers(html: str) -> list[str]:
    return re.findall(r"<mn>(.*?)</mn>", html)


@pytest.mark.parametrize(
    ("latex", "number"),
    [("23{,}04", "23,04"), ("4{,}8", "4,8"), ("1\\,234{,}5", "1\u202f234,5")],
)
def test_a_decimal_comma_makes_one_number(latex, number):
    html = render_markdown(f"Le prix : ${latex}$ francs.")

    assert numbers(html) == [number]
    assert "<mo>,</mo>" not in html
    assert fallback_text(html) == [number]


@pytest.mark.parametrize("latex", ["1\\,600", "1~600", "1\\ 600", "1 600"])
def test_thousands_stay_one_number_with_a_narrow_no_break_space(latex):
    html = render_markdown(f"Un champ de ${latex}$ m².")

    # U+202F does not break a line and keeps "1 600" in one piece inside Arabic text.
    assert numbers(html) == ["1\u202f600"]


def test_a_list_with_commas_stays_a_list():
    html = render_markdown("Les points $(1, 4)$ et $(2,3)$.")

    assert numbers(html) == ["1", "4", "2", "3"]


def test_display_maths_after_a_line_of_text_is_a_display_formula_in_its_paragraph():
    html = render_markdown("On calcule :\n$$a = 1\\,600 + 900$$\nEt voilà.\n")

    found = assert_inert(html)
    assert [m.get("display") for m in found.named("math")] == ["block"]
    boxes = [a for a in found.named("span") if "math" in (a.get("class") or "").split()]
    assert [b["class"] for b in boxes] == ["math block"]
    # Still one paragraph: no <div> inside a <p>, which browsers would split apart.
    assert "<div" not in html
    assert html.count("<p>") == 1


def test_every_formula_is_a_left_to_right_box_of_its_own():
    html = render_markdown("Texte $x^2$ et\n\n$$\\frac{3}{4}$$\n\nقيمة $\\frac{1}{2}$.")

    found = assert_inert(html)
    boxes = [a for a in found.named("span") if "math" in (a.get("class") or "").split()]
    assert len(boxes) == 3
    assert all(box["dir"] == "ltr" for box in boxes)
    # The display formula may be wider than a phone: it scrolls, so it takes the focus.
    assert [box.get("tabindex") for box in boxes] == [None, "0", None]


def test_a_long_inline_formula_can_take_the_keyboard_focus():
    html = render_markdown(
        "Somme : $1 + \\frac{1}{2} + \\frac{1}{4} + \\frac{1}{8} + \\frac{1}{16}$."
    )

    found = Elements(html)
    box = next(a for a in found.named("span") if a.get("class") == "math inline")
    assert box.get("tabindex") == "0"


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ("\\frac{3}{8} < \\frac{5}{8}", "3/8 < 5/8"),
        ("\\frac{a+b}{2}", "(a + b)/2"),
        ("3\\frac{3}{8}", "3 3/8"),
        ("x^2 + y_1", "x2 + y1"),
        ("10^{-3}", "10−3"),
        ("\\sqrt{x+1}", "√(x + 1)"),
        ("\\sqrt[3]{8}", "3√8"),
        ("\\text{aire} = 3 \\times 4", "aire = 3 × 4"),
        ("2{,}5 \\leq x", "2,5 ≤ x"),
    ],
)
def test_without_mathml_a_formula_reads_as_linear_text(latex, text):
    html = render_markdown(f"${latex}$")

    assert fallback_text(html) == [text]


def test_powers_and_indices_of_the_fallback_are_raised_and_lowered():
    html = render_markdown("$x^2 + y_1$")

    fallback = re.search(r'<span class="math-text">(.*?)</span></span>', html).group(1)
    assert fallback == "<var>x</var><sup>2</sup> + <var>y</var><sub>1</sub>"


def test_the_fallback_of_a_system_puts_each_line_on_its_own():
    html = render_markdown("$$\\begin{cases} x=1 \\\\ y=2 \\end{cases}$$")

    fallback = re.search(r'<span class="math-text">(.*?)</span></span>', html).group(1)
    assert fallback.split("<br>") == ["{<var>x</var> = 1", "<var>y</var> = 2"]


def test_a_numbered_equation_keeps_its_number_beside_the_box():
    html = render_markdown("$$x = 2$$ (1)\n")

    assert '<span class="eqno">(1)</span>' in html
    assert html.startswith('<div class="formula"><span class="math block"')


def test_the_stylesheet_shows_mathml_only_where_the_browser_lays_it_out():
    css = STYLE.read_text(encoding="utf-8")

    assert ".math > math:not(:only-child) { display: none; }" in css
    assert (
        "@supports (math-depth: auto-add) {"
        " .math > math:not(:only-child) { display: revert; } .math-text { display: none; } }"
    ) in css


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("حقل مساحته 4 100 م²", "حقل مساحته 4\u202f100 م²"),
        ("Il y a 1 234 567 élèves.", "Il y a 1\u202f234\u202f567 élèves."),
        ("En 1960, 12 pays et 3 100 écoles.", "En 1960, 12 pays et 3\u202f100 écoles."),
        ("Les pages 12 et 1234 567", "Les pages 12 et 1234 567"),
    ],
)
def test_thousands_in_text_keep_their_order_in_arabic(text, shown):
    html = render_markdown(text)

    assert Elements(html).text.strip() == shown


def test_numbers_in_code_are_left_as_written():
    html = render_markdown("`x = 4 100`\n\n```\n1 000\n```\n")

    assert "\u202f" not in html
