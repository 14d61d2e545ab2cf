"""Turn a LaTeX formula into HTML that reads right with or without MathML support.

Each formula becomes a box of its own, left to right whatever the page's direction, that
scrolls sideways when it is wider than the screen. It holds two renderings: MathML, shown by
browsers that lay it out (the stylesheet asks them with ``@supports``), and a linear HTML text
(``3/8 < 5/8``, ``x<sup>2</sup>``) shown everywhere else: Chrome before 109, Opera Mini.
Decision 22 in docs/decisions.md says why.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape

from latex2mathml.converter import convert as latex_to_mathml

from imaginecole.xmldoc import xml_text

MATHML = "http://www.w3.org/1998/Math/MathML"

# A formula longer than this may not fit a 360 px phone: its box can then scroll, so it must
# take the keyboard focus too (WCAG 2.1.1); shorter ones stay out of the tab order.
MAY_SCROLL_CHARACTERS = 24
NARROW_SPACE = "\u202f"  # thousands separator: no line break, and it keeps "4 100" together in RTL
SPACES = {"\u00a0", " ", ""}
# Operators a reader expects with a space each side in a linear formula.
SPACED_OPERATORS = set("=<>≤≥≠≈+−×÷±→⇒⇔∈∉⊂∪∩≡∼") | {"-"}


class MathError(ValueError):
    """A formula that cannot be rendered."""


def formula_html(latex: str, display: bool) -> str:
    """Return the HTML box of a formula; its LaTeX source as code when it cannot be read."""
    try:
        tree = ET.fromstring(latex_to_mathml(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many error types on bad input; show the source instead
        return f'<code class="math-error">{escape(latex)}</code>'
    join_numbers(tree)
    text = linear(tree).strip()
    mathml = xml_text(tree, MATHML)
    kind = "block" if display else "inline"
    focus = ' tabindex="0"' if display or len(latex) > MAY_SCROLL_CHARACTERS else ""
    return (
        f'<span class="math {kind}" dir="ltr"{focus}>{mathml}'
        f'<span class="math-text">{text}</span></span>'
    )


def _local(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _is_decimal_comma(element: ET.Element) -> bool:
    # ``{,}`` (the LaTeX way to write a decimal comma) becomes an mrow holding a lone comma.
    children = list(element)
    return (
        _local(element) == "mrow"
        and len(children) == 1
        and _local(children[0]) == "mo"
        and (children[0].text or "") == ","
    )


def _is_thin_space(element: ET.Element) -> bool:
    return (_local(element) == "mspace" and element.get("width") == "0.167em") or (
        _local(element) == "mtext" and (element.text or "") in SPACES
    )


def join_numbers(element: ET.Element) -> None:
    """Make ``1{,}4`` and ``1 600`` (or ``1\\,600``) single numbers, read as one."""
    children = list(element)
    index = 0
    while index < len(children):
        first = children[index]
        if _local(first) == "mn":
            rest = children[index + 1 :]
            separator = None
            if len(rest) >= 2 and _local(rest[1]) == "mn":
                if _is_decimal_comma(rest[0]):
                    separator = ","
                elif _is_thin_space(rest[0]) and re.fullmatch(r"\d{3}", rest[1].text or ""):
                    separator = NARROW_SPACE
            if separator is not None:
                first.text = f"{first.text}{separator}{rest[1].text}"
                element.remove(rest[0])
                element.remove(rest[1])
                children = list(element)
                continue
            if rest and _local(rest[0]) == "mn" and re.fullmatch(r"\d{3}", rest[0].text or ""):
                # "1 600" written with a plain space: LaTeX drops the space, we keep the group.
                first.text = f"{first.text}{NARROW_SPACE}{rest[0].text}"
                element.remove(rest[0])
                children = list(element)
                continue
        join_numbers(first)
        index += 1


def linear(element: ET.Element) -> str:
    """Return the formula as escaped HTML text: fractions with a slash, powers in <sup>."""
    tag = _local(element)
    children = list(element)
    text = element.text or ""
    if tag == "mi":
        return f"<var>{escape(text)}</var>" if len(text) == 1 and text.isalpha() else escape(text)
    if tag in ("mn", "mtext", "ms"):
        return escape(text)
    if tag == "mo":
        if text in SPACED_OPERATORS:
            return f" {escape(text)} "
        return escape(text) + (" " if text in ",;" else "")
    if tag == "mspace":
        return " "
    if tag in ("annotation", "annotation-xml", "mphantom"):
        return ""
    if tag == "semantics":
        return linear(children[0]) if children else ""
    if tag == "mfrac" and len(children) == 2:
        return f"{_grouped(children[0])}/{_grouped(children[1])}"
    if tag == "msqrt":
        return f"√{_grouped(_row(children))}"
    if tag == "mroot" and len(children) == 2:
        return f"<sup>{linear(children[1])}</sup>√{_grouped(children[0])}"
    if tag in ("msup", "mover") and len(children) == 2:
        return f"{linear(children[0])}<sup>{linear(children[1]).strip()}</sup>"
    if tag in ("msub", "munder") and len(children) == 2:
        return f"{linear(children[0])}<sub>{linear(children[1]).strip()}</sub>"
    if tag in ("msubsup", "munderover") and len(children) == 3:
        base, below, above = (linear(child).strip() for child in children)
        return f"{base}<sub>{below}</sub><sup>{above}</sup>"
    if tag == "mtable":
        return "<br>".join(linear(row).strip() for row in children)
    if tag == "mtr":
        return " ".join(linear(cell).strip() for cell in children)
    if tag == "mfenced":
        separator = element.get("separators", ",")[:1] or ","
        inner = f"{escape(separator)} ".join(linear(child).strip() for child in children)
        return f"{escape(element.get('open', '('))}{inner}{escape(element.get('close', ')'))}"
    pieces: list[str] = []
    for child in children:
        piece = linear(child)
        if _local(child) == "mfrac" and pieces and re.search(r"[\w>]$", pieces[-1]):
            piece = " " + piece  # 3 3/8, not 33/8
        elif _local(child) == "mo" and (not pieces or pieces[-1].endswith((" ", "(", "{"))):
            piece = piece.strip()  # a sign, not an operation: −3, not − 3
        pieces.append(piece)
    return "".join(pieces)


def _row(children: list[ET.Element]) -> ET.Element:
    row = ET.Element(f"{{{MATHML}}}mrow")
    row.extend(children)
    return row


def _grouped(element: ET.Element) -> str:
    """Return the linear text, in brackets when it is more than one number or letter."""
    text = linear(element).strip()
    plain = re.sub(r"<[^>]+>", "", text)
    if re.fullmatch(r"[\w.,\u202f]+", plain):
        return text
    return f"({text})"
