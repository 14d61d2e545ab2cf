"""Render lesson Markdown to sanitised HTML with server-side MathML and no JavaScript.

Authors' raw HTML is never passed through: markdown-it runs with ``html=False`` (tags show as
text) and the output is cleaned again by nh3 with an allow-list, so a slip in a plugin cannot
let a script through either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from urllib.parse import unquote

import nh3
from babel.numbers import format_decimal
from flask_babel import force_locale
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from imaginecole.rendering.exercises import (
    Feedback,
    answer_key,
    render_exercise,
    without_form_words,
)
from imaginecole.rendering.maths import formula_html
from sync.content import sidecar_targets
from sync.exercises import ExerciseBlock, split_lesson


@dataclass
class ImageInfo:
    """What the renderer needs to know of an image to write a responsive <img>."""

    url: str  # the fallback file
    width: int | None = None
    height: int | None = None
    sources: list[tuple[str, list[tuple[str, int]]]] = field(
        default_factory=list
    )  # (type, [(url, w)])


@dataclass
class MediaLink:
    url: str
    media_type: str
    size: int | None = None  # bytes, shown beside the download link of audio and video


MediaResolver = Callable[[str], ImageInfo | MediaLink | None]

MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub",
    "msup", "msubsup", "mfrac", "msqrt", "mroot", "mstyle", "merror", "mpadded", "mphantom",
    "mfenced", "menclose", "mtable", "mtr", "mtd", "munder", "mover", "munderover",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "columnalign", "rowalign", "width", "height", "depth", "linethickness", "accent", "accentunder",
    "movablelimits", "open", "close", "separators", "notation", "columnspacing", "rowspacing",
    "displaystyle", "scriptlevel", "encoding", "minsize", "maxsize", "symmetric", "columnlines",
    "rowlines", "frame", "align",
}  # fmt: skip
HTML_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "img", "picture", "source",
    "em", "strong", "code", "pre", "blockquote", "table", "thead", "tbody", "tr", "th", "td", "hr",
    "br", "del", "s", "details", "summary", "div", "span", "input", "audio", "video", "figure",
    "figcaption", "sup", "sub", "var", "track",
}  # fmt: skip
ATTRIBUTES = {
    "*": {"class", "lang", "dir"},
    # A formula or code box that may scroll sideways takes the keyboard focus (WCAG 2.1.1).
    "span": {"tabindex"},
    "pre": {"tabindex"},
    "a": {"href", "title", "type", "download"},
    "img": {"src", "srcset", "sizes", "alt", "title", "width", "height", "loading", "decoding"},
    "source": {"srcset", "sizes", "type", "src"},
    "ol": {"start"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "details": {"open"},
    "input": {"type", "checked", "disabled"},
    "audio": {"controls", "preload", "src"},
    "video": {"controls", "preload", "src", "width", "height", "poster"},
    "track": {"kind", "src", "srclang", "label", "default"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}
# Wider than a lesson column at its largest (46rem): shown shrunk, with a link to the full file.
WIDE_IMAGE_PX = 800
ALIGN_CLASS = re.compile(r'style="text-align:(left|right|center)"')
# "4 100" written with a plain space: inside Arabic text the bidirectional algorithm shows it
# as "100 4". A narrow no-break space is a number separator to that algorithm, and never
# breaks the number across lines either.
THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d])")


def _group_thousands(state) -> None:
    for token in state.tokens:
        for child in token.children or []:
            if child.type == "text" and " " in child.content:
                child.content = THOUSANDS.sub(
                    lambda match: match.group(0).replace(" ", "\u202f"), child.content
                )


def _render_math_inline(self, tokens, idx, options, env):
    return formula_html(tokens[idx].content, display=False)


def _render_math_inline_double(self, tokens, idx, options, env):
    # "$$…$$" inside a paragraph (straight after a line of text) is still a display formula:
    # its box is a block, but it stays inside the paragraph's HTML.
    return formula_html(tokens[idx].content, display=True)


def _render_math_block(self, tokens, idx, options, env):
    token = tokens[idx]
    label = token.info if token.type == "math_block_label" else ""
    number = f'<span class="eqno">({escape(label)})</span>' if label else ""
    return f'<div class="formula">{formula_html(token.content, display=True)}{number}</div>\n'


def _render_admonition_open(self, tokens, idx, options, env):
    token = tokens[idx]
    stack = env.setdefault("_admonitions", [])
    collapsible = token.markup.startswith("?")
    stack.append(collapsible)
    css = escape(token.attrs.get("class", "admonition"))
    if collapsible:
        opened = " open" if token.markup.endswith("+") else ""
        return f'<details class="{css}"{opened}>\n'
    return f'<div class="{css}">\n'


def _render_admonition_close(self, tokens, idx, options, env):
    collapsible = env.get("_admonitions", [False]).pop()
    return "</details>\n" if collapsible else "</div>\n"


def _render_admonition_title_open(self, tokens, idx, options, env):
    collapsible = env.get("_admonitions", [False])[-1]
    return '<summary class="admonition-title">' if collapsible else '<p class="admonition-title">'


def _render_admonition_title_close(self, tokens, idx, options, env):
    collapsible = env.get("_admonitions", [False])[-1]
    return "</summary>\n" if collapsible else "</p>\n"


def _render_image(self, tokens, idx, options, env):
    token = tokens[idx]
    src = token.attrGet("src") or ""
    alt = self.renderInlineAsText(token.children or [], options, env)
    resolver: MediaResolver | None = env.get("media")
    found = resolver(src) if resolver else None
    if found is None:
        # An image we could not resolve is shown as its description, never fetched from elsewhere.
        return f'<span class="missing-image">[{escape(alt)}]</span>'
    if isinstance(found, MediaLink):
        return _media_element(found, alt, src, resolver, env.get("lang") or "fr")
    size = ""
    if found.width and found.height:
        size = f' width="{found.width}" height="{found.height}"'
    img = (
        f'<img src="{escape(found.url)}" alt="{escape(alt)}"{size} loading="lazy" decoding="async">'
    )
    if found.sources:
        img = f"<picture>{_sources(found)}{img}</picture>"
    if found.width and found.width > WIDE_IMAGE_PX:
        # Shrunk to a phone's width, a wide diagram's labels cannot be read: link the full file.
        return f'<a class="full-image" href="{escape(found.url)}">{img}</a>'
    return img


def _sources(found: ImageInfo) -> str:
    return "".join(
        f'<source type="{escape(media_type)}" srcset="{escape(", ".join(f"{u} {w}w" for u, w in variants))}"'
        ' sizes="(max-width: 48rem) 100vw, 46rem">'
        for media_type, variants in found.sources
    )


def _media_element(
    found: MediaLink, label: str, target: str, resolver: MediaResolver, lang: str
) -> str:
    """Return a player that loads nothing until pressed, with its size and a download link.

    Captions (``name.vtt``) and a video's poster (``name.jpg`` …) are the files beside it that
    the content reader took along (``sync.content.sidecar_targets``).
    """
    url, label = escape(found.url), escape(label or "")
    tag = found.media_type.split("/")[0]
    if tag not in ("audio", "video"):
        return f'<a href="{url}" download>{label}</a>'
    captions = poster = None
    for sidecar in sidecar_targets(target):
        extra = resolver(sidecar)
        if isinstance(extra, MediaLink) and extra.media_type == "text/vtt":
            captions = captions or extra
        elif isinstance(extra, ImageInfo) and tag == "video":
            poster = poster or extra
    with force_locale(lang):
        kind = found.media_type.split("/")[1].upper().replace("MPEG", "MP3")
        size = ""
        if found.size:
            megabytes = format_decimal(round(found.size / 1_000_000, 1) or 0.1, locale=lang)
            size = ", " + _("%(size)s MB", size=megabytes)
        download = escape(_("Download (%(kind)s%(size)s)", kind=kind, size=size))
        track = ""
        if captions is not None:
            track = (
                f'<track kind="captions" src="{escape(captions.url)}" srclang="{escape(lang)}" '
                f'label="{escape(_("Captions"))}" default>'
            )
    cover = f' poster="{escape(poster.url)}"' if poster is not None else ""
    player = (
        f'<{tag} controls preload="none" src="{url}"{cover}>{track}'
        f'<a href="{url}" download>{label or download}</a></{tag}>'
    )
    caption = f"{label} · " if label else ""
    return (
        f'<figure class="media media-{tag}">{player}'
        f'<figcaption>{caption}<a href="{url}" download>{download}</a></figcaption></figure>'
    )


def _render_link_open(self, tokens, idx, options, env):
    token = tokens[idx]
    href = token.attrGet("href") or ""
    resolver: MediaResolver | None = env.get("media")
    found = (
        resolver(href)
        if resolver and not re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", href, re.I)
        else None
    )
    if isinstance(found, (MediaLink, ImageInfo)):
        token.attrSet("href", found.url)
    elif not re.match(r"^(https?:|mailto:|#)", href, re.I):
        # A local link that leads nowhere on this server: keep the text, drop the target. An
        # <a> without href is not a link at all, where href="#" was one that went nowhere.
        del token.attrs["href"]
    return self.renderToken(tokens, idx, options, env)


def make_parser() -> MarkdownIt:
    parser = (
        MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        .enable(["table", "strikethrough"])
        .use(admon_plugin)
        .use(tasklists_plugin)
        .use(
            dollarmath_plugin,
            # Like MkDocs' arithmatex: no space just inside the dollars, so prices such as
            # "$5 or $10" stay text. (allow_digits=False would misfire at the start of a cell.)
            allow_space=False,
            allow_digits=True,
            double_inline=True,
        )
    )
    parser.add_render_rule("math_inline", _render_math_inline)
    parser.add_render_rule("math_inline_double", _render_math_inline_double)
    parser.add_render_rule("math_block", _render_math_block)
    parser.add_render_rule("math_block_label", _render_math_block)
    parser.core.ruler.push("group_thousands", _group_thousands)
    parser.add_render_rule("admonition_open", _render_admonition_open)
    parser.add_render_rule("admonition_close", _render_admonition_close)
    parser.add_render_rule("admonition_title_open", _render_admonition_title_open)
    parser.add_render_rule("admonition_title_close", _render_admonition_title_close)
    parser.add_render_rule("image", _render_image)
    parser.add_render_rule("link_open", _render_link_open)
    return parser


_PARSER = make_parser()


def render_markdown(
    markdown: str,
    media: MediaResolver | None = None,
    *,
    lang: str = "fr",
    corrections: str = "none",
    feedback: dict[int, Feedback] | None = None,
) -> str:
    """Return sanitised HTML for ``markdown``; ``media`` maps a written link to a served file.

    ``lang`` is the lesson's language (the words of its players and exercises). Exercises are
    forms with no answer in them unless ``corrections`` asks for their corrections
    (``rendering.exercises.CORRECTION_MODES``); ``feedback`` maps an exercise's number to the
    checked answer to show with it.
    """

    def resolve(url: str) -> ImageInfo | MediaLink | None:
        # markdown-it percent-encodes link targets ("été.png" -> "%C3%A9t%C3%A9.png"), while
        # ``media`` knows them as the author wrote them.
        return media(url) or media(unquote(url))

    def render_block(text: str) -> str:
        html = _PARSER.render(text, {"media": resolve if media else None, "lang": lang})
        html = ALIGN_CLASS.sub(r'class="align-\1"', html)
        # A code block scrolls sideways when its lines are long: it takes the keyboard focus.
        html = html.replace("<pre><code", '<pre tabindex="0"><code')
        return sanitize(html)

    def render_inline(text: str) -> str:
        env = {"media": resolve if media else None, "lang": lang}
        return sanitize(_PARSER.renderInline(text, env))

    segments = split_lesson(markdown)
    if all(isinstance(segment, str) for segment in segments):
        return render_block(markdown)
    html, blocks = [], []
    for segment in segments:
        if isinstance(segment, ExerciseBlock):
            blocks.append(segment)
            found = (feedback or {}).get(len(blocks))
            html.append(
                render_exercise(
                    segment, len(blocks), lang, render_block, render_inline, corrections, found
                )
            )
        else:
            html.append(render_block(segment))
    if corrections == "key":
        html.append(answer_key(blocks, lang, render_block, render_inline))
    return "\n".join(html)


def sanitize(html: str) -> str:
    """Keep only the tags and attributes a lesson may use."""
    return nh3.clean(
        html,
        tags=HTML_TAGS | MATHML_TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def printable(html: str) -> str:
    """Return lesson HTML for paper: every <details> open, every image loaded at once."""
    html = re.sub(r"<details((?: class=\"[^\"]*\")?)>", r"<details\1 open>", html)
    return html.replace(' loading="lazy"', "")


def plain_text(html: str) -> str:
    """Return the visible text of rendered HTML, for search and summaries."""
    text = nh3.clean(without_form_words(html), tags=set(), attributes={})
    return re.sub(r"\s+", " ", text).strip()
