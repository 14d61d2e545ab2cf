"""Lesson Markdown as a reader gets it: safe HTML, MathML, admonitions, tables and pictures."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from imaginecole.rendering.markdown import ImageInfo, MediaLink, render_markdown
from tests.conftest import TEST_CONTENT

ZZ = TEST_CONTENT / "zz" / "modules"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML fragment."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def names(self) -> set[str]:
        return {name for name, _ in self.tags}


def assert_inert(html: str) -> Elements:
    """Nothing in ``html`` can run, load from elsewhere or restyle the page."""
    found = Elements(html)
    assert not found.names() & {"script", "iframe", "style", "object", "embed", "link", "form"}
    for tag, attrs in found.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in ("href", "src", "srcset", "action", "formaction"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (
                    tag,
                    value,
                )
    return found


# ---------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ('<script>alert("x")</script>', '<script>alert("x")</script>'),
        ('Voir <img src="x.png" onerror="alert(1)"> ici', '<img src="x.png" onerror="alert(1)">'),
        ('<iframe src="https://evil.example/"></iframe>', "<iframe"),
        ("<style>body { display: none }</style>", "<style>"),
        ('<a href="javascript:alert(1)">clic</a>', "<a href="),
        ('<div onclick="alert(1)">boîte</div>', "<div onclick"),
        ("<svg><script>alert(1)</script></svg>", "<svg>"),
    ],
    ids=["script", "img-onerror", "iframe", "style", "html-link", "onclick", "svg"],
)
def test_raw_html_is_shown_as_text_never_as_markup(markdown, shown):
    html = render_markdown(markdown)

    found = assert_inert(html)
    assert found.names() <= {"p"}
    assert shown in found.text  # the author sees what they wrote, as text


@pytest.mark.parametrize(
    "markdown",
    [
        "[clic](javascript:alert(1))",
        "[clic](JaVaScRiPt:alert(1))",
        "[clic](<javascript:alert(1)>)",
        "[clic](java&#115;cript:alert(1))",
        "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[clic](vbscript:msgbox(1))",
        "![image](javascript:alert(1))",
        "<javascript:alert(1)>",
    ],
)
def test_script_links_never_become_links(markdown):
    found = assert_inert(render_markdown(markdown))
    assert found.named("a") == [] or all(
        not (a.get("href") or "").lower().startswith(("javascript", "data", "vbscript"))
        for a in found.named("a")
    )


def test_html_in_an_admonition_title_is_text():
    html = render_markdown(
        '!!! note "<b onmouseover=alert(1)>À retenir</b><script>x</script>"\n    Corps.'
    )

    found = assert_inert(html)
    assert "b" not in found.names()
    assert "<b onmouseover=alert(1)>À retenir</b>" in found.text


def test_the_raw_script_of_the_zz_module_is_shown_as_text():
    markdown = (ZZ / "zz-histoire-royaume" / "01-grandes-dates.md").read_text(encoding="utf-8")

    html = render_markdown(markdown)

    found = assert_inert(html)
    assert '<script>alert("raw html must never run")</script>' in found.text
    assert "&lt;script&gt;" in html


def test_author_links_to_the_web_stay_plain_links():
    html = render_markdown("[Météo](https://example.org/meteo) et [écrire](mailto:a@example.org)")

    links = assert_inert(html).named("a")
    assert [a["href"] for a in links] == ["https://example.org/meteo", "mailto:a@example.org"]
    assert all("noopener" in (a.get("rel") or "") for a in links)


def test_a_local_link_to_nothing_keeps_its_text_but_leads_nowhere():
    html = render_markdown("[la suite](autre-lecon.md)", media=lambda target: None)

    found = assert_inert(html)
    assert [a.get("href") for a in found.named("a")] == [None]
    assert "la suite" in found.text


# ---------------------------------------------------------------------------- maths


def test_inline_and_display_maths_become_mathml_without_javascript():
    html = render_markdown("Une fraction $\\frac{a}{b}$.\n\n$$\\frac{3}{4} + \\frac{1}{4} = 1$$\n")

    found = assert_inert(html)
    maths = found.named("math")
    assert [m.get("display") for m in maths] == ["inline", "block"]
    assert {"mfrac", "mi", "mn", "mo"} <= found.names()
    assert "$" not in found.text and "\\frac" not in found.text


@pytest.mark.parametrize("text", ["Le cahier coûte 5 $ et le stylo 2 $.", "Entre $5 et $10."])
def test_prices_are_not_maths(text):
    found = Elements(render_markdown(text))

    assert "math" not in found.names()
    assert found.text.strip() == text


def test_maths_opening_a_table_cell():
    html = render_markdown("| calcul | valeur |\n|--|--|\n| $x^2$ | 4 |\n| 3 | $\\frac{1}{2}$ |\n")

    found = assert_inert(html)
    assert len(found.named("math")) == 2
    assert "$" not in found.text


@pytest.mark.parametrize("latex", ["\\frac{1}{", "\\begin{nimportequoi}", "x^{", "\\sqrt["])
def test_bad_latex_falls_back_to_its_source_as_code(latex):
    html = render_markdown(f"Calcul : ${latex}$ fin.")

    found = assert_inert(html)
    codes = [attrs for attrs in found.named("code") if "math-error" in (attrs.get("class") or "")]
    assert len(codes) == 1
    assert latex in found.text
    assert "fin." in found.text


# ---------------------------------------------------------------------------- blocks


def test_admonitions_fold_without_javascript():
    html = render_markdown(
        '!!! note "À retenir"\n    Toujours visible.\n\n'
        '??? tip "Correction"\n    Repliée.\n\n'
        '???+ warning "Attention"\n    Dépliée.\n'
    )

    found = assert_inert(html)
    details = found.named("details")
    assert len(details) == 2
    assert "open" not in details[0]  # ??? starts folded
    assert "open" in details[1]  # ???+ starts open
    assert [s.get("class") for s in found.named("summary")] == ["admonition-title"] * 2
    notes = [d for d in found.named("div") if "admonition" in (d.get("class") or "")]
    assert len(notes) == 1 and "note" in notes[0]["class"]
    assert "Correction" in found.text and "Repliée." in found.text


def test_tables_keep_their_alignment_as_classes():
    html = render_markdown("| gauche | droite |\n|:--|--:|\n| 1/2 | un demi |\n")

    found = assert_inert(html)
    assert {"table", "thead", "tbody", "th", "td"} <= found.names()
    assert [th.get("class") for th in found.named("th")] == ["align-left", "align-right"]


def test_task_lists_are_disabled_checkboxes():
    html = render_markdown("- [ ] lire\n- [x] écrire\n")

    boxes = assert_inert(html).named("input")
    assert [b.get("type") for b in boxes] == ["checkbox", "checkbox"]
    assert all("disabled" in b for b in boxes)
    assert ["checked" in b for b in boxes] == [False, True]


def test_code_blocks_are_kept_and_escaped():
    html = render_markdown('```html\n<script>alert("x")</script>\n```\n\nEt `a < b` aussi.')

    found = assert_inert(html)
    assert "pre" in found.names()
    assert found.named("code")[0].get("class") == "language-html"
    assert '<script>alert("x")</script>' in found.text
    assert "a < b" in found.text


def test_the_zz_lesson_renders_every_feature():
    markdown = (ZZ / "zz-maths-fractions" / "01-lire-une-fraction.md").read_text(encoding="utf-8")

    found = assert_inert(render_markdown(markdown))

    assert found.named("h1") and "Lire une fraction" in found.text
    assert {"math", "details", "summary", "table"} <= found.names()
    assert "[Un disque partagé en quatre parts égales]" in found.text  # no resolver: alt text


# ---------------------------------------------------------------------------- pictures and media

PICTURE = ImageInfo(
    url="/media/" + "a" * 64 + ".jpg",
    width=800,
    height=600,
    sources=[
        (
            "image/webp",
            [("/media/" + "b" * 64 + ".webp", 320), ("/media/" + "c" * 64 + ".webp", 640)],
        )
    ],
)


def test_a_resolved_picture_is_responsive_and_lazy():
    seen = []

    def resolve(target):
        seen.append(target)
        return PICTURE if target == "media/disque.png" else None

    html = render_markdown("![Un disque](media/disque.png)", resolve)

    found = assert_inert(html)
    assert seen == ["media/disque.png"]
    assert "picture" in found.names()
    [source] = found.named("source")
    assert source["type"] == "image/webp"
    assert source["srcset"] == f"/media/{'b' * 64}.webp 320w, /media/{'c' * 64}.webp 640w"
    [img] = found.named("img")
    assert img["src"] == PICTURE.url
    assert img["alt"] == "Un disque"
    assert (img["width"], img["height"]) == ("800", "600")
    assert img["loading"] == "lazy"


def test_a_picture_with_an_accented_file_name_is_found():
    # The reader records targets as written; the page must find them all the same.
    pictures = {"media/été.png": PICTURE, "media/mare 2.png": PICTURE}

    html = render_markdown(
        "![En été](media/été.png)\n\n![La mare](<media/mare 2.png>)", pictures.get
    )

    assert [img["alt"] for img in Elements(html).named("img")] == ["En été", "La mare"]


def test_an_animation_is_a_plain_img_without_sources():
    gif = ImageInfo(url="/media/" + "d" * 64 + ".gif", width=100, height=80)

    found = assert_inert(render_markdown("![Une goutte](media/goutte.gif)", lambda t: gif))

    assert "picture" not in found.names() and "source" not in found.names()
    assert found.named("img")[0]["src"] == gif.url


@pytest.mark.parametrize(
    "target",
    ["media/absente.png", "https://evil.example/tracker.png", "//evil.example/x.png", "/etc/x.png"],
)
def test_an_unresolved_picture_shows_its_description_and_fetches_nothing(target):
    html = render_markdown(f"![Une carte du royaume]({target})", media=lambda t: None)

    found = assert_inert(html)
    assert "img" not in found.names()
    assert "[Une carte du royaume]" in found.text
    assert "evil.example" not in html


def test_pictures_without_a_resolver_are_never_fetched():
    html = render_markdown("![Un disque](https://evil.example/x.png)")

    assert "img" not in Elements(html).names()
    assert "evil.example" not in html


@pytest.mark.parametrize(
    ("media_type", "tag", "attribute"),
    [
        ("audio/mpeg", "audio", "src"),
        ("video/mp4", "video", "src"),
        ("application/pdf", "a", "href"),
    ],
)
def test_other_media_are_players_or_downloads(media_type, tag, attribute):
    url = "/media/" + "e" * 64 + ".bin"
    link = MediaLink(url, media_type)

    found = assert_inert(render_markdown("![Écouter la chanson](media/chanson)", lambda t: link))

    [element] = found.named(tag)
    assert element[attribute] == url
    if tag != "a":
        assert "controls" in element and element.get("preload") == "none"


def test_a_link_to_a_local_pdf_points_at_the_served_file():
    url = "/media/" + "f" * 64 + ".pdf"

    html = render_markdown(
        "[La fiche](media/fiche.pdf)", lambda t: MediaLink(url, "application/pdf")
    )

    assert [a["href"] for a in assert_inert(html).named("a")] == [url]


def test_a_wide_picture_links_to_its_largest_file():
    wide = ImageInfo("/media/big.png", 1024, 600, [("image/webp", [("/media/b.webp", 320)])])
    html = render_markdown("![Un schéma annoté](schema.png)", media=lambda target: wide)

    found = assert_inert(html)
    assert [a.get("href") for a in found.named("a")] == ["/media/big.png"]
    assert found.named("img")[0]["alt"] == "Un schéma annoté"  # the link's name


def test_a_picture_that_fits_the_column_is_not_a_link():
    small = ImageInfo("/media/small.png", 400, 300)
    html = render_markdown("![Un disque](disque.png)", media=lambda target: small)

    assert Elements(html).named("a") == []


def test_a_code_block_can_take_the_keyboard_focus_to_scroll():
    html = render_markdown(
        "```\nprint('une ligne bien plus longue que la largeur d’un téléphone')\n```"
    )

    assert Elements(html).named("pre") == [{"tabindex": "0"}]
