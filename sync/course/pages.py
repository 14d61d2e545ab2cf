"""Convert one page of an MkDocs site into the Markdown dialect of content/README.md.

The site's own syntax (Jinja, attribute lists, emoji shortcodes, content tabs, a little raw
HTML) is rewritten; admonitions, code, tables and maths are kept as written. Images are checked
and hashed like in ``sync.content``; what cannot come through is listed as skipped.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from PIL import Image

from sync.content import resolve_media
from sync.course.chapters import (
    PREFIX_NAMES,
    ROLE_NAMES,
    Chapter,
    Page,
    humanise,
)
from sync.course.jinja import expand_jinja
from sync.markdown import Fences, first_heading, outside_fences
from sync.media import IMAGE_TYPES, MEDIA_EXTENSIONS
from sync.model import Blob
from sync.problems import ProblemList
from sync.text import fold_accents

MAX_TITLE_LENGTH = 200
SUMMARY_LENGTH = 300


@dataclass
class Converted:
    """A page rewritten as a lesson, with the media it uses."""

    markdown: str
    title: str
    heading: str  # the page's own "# " heading, '' when the title had to be made up
    media: dict[str, str]
    blobs: dict[str, Blob]


def read_page(path: Path, skipped: ProblemList) -> str | None:
    """Return the text of a page, or None (and say why in ``skipped``) when it cannot be a lesson."""
    try:
        data = path.read_bytes()
    except OSError as error:
        skipped.add(path, None, "page", f"cannot be read ({error.strerror or error})")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        skipped.add(
            path, data[: error.start].count(b"\n") + 1, "page", "the page is not valid UTF-8 text"
        )
        return None
    if "\x00" in text:
        skipped.add(
            path, text[: text.index("\x00")].count("\n") + 1, "page", "the page contains a NUL byte"
        )
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        skipped.add(path, None, "page", "the page is empty")
        return None
    return text


def convert_page(
    text: str,
    page: Page,
    chapter: Chapter,
    course_root: Path,
    skipped: ProblemList,
    undescribed: ProblemList | None = None,
) -> Converted:
    """Rewrite one page into our dialect, resolve its media and find its title.

    Each image kept without a description (alt text) is listed in ``undescribed``.
    """
    expanded, line_map = expand_jinja(text)
    converter = _PageConverter(page.path, course_root, skipped, line_map, undescribed)
    markdown = converter.convert(expanded)
    heading = plain_text(_first_heading(markdown))
    title = heading or _fallback_title(markdown, page, chapter)
    title = title[:MAX_TITLE_LENGTH].rstrip()
    if not heading:
        # Every lesson shows its title as its "# " heading, like the lessons of the content format.
        markdown = f"# {title}\n\n{markdown.lstrip(chr(10))}"
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip("\n") + "\n"
    return Converted(markdown, title, heading, converter.media, converter.blobs)


def _first_heading(markdown: str) -> str:
    """Return the text of the first "# " heading outside fenced code, or ''."""
    for line in outside_fences(markdown.split("\n")):
        if line.startswith("# ") or line.startswith("#\t"):
            return first_heading(line)
    return ""


def _fallback_title(markdown: str, page: Page, chapter: Chapter) -> str:
    """Title a page that has no "# " heading."""
    stem = fold_accents(page.stem).lower()
    if chapter.group is not None:
        word = PREFIX_NAMES.get(chapter.group[0], chapter.group[0].upper())
        role = ROLE_NAMES.get(page.role)
        return f"{word} {chapter.group[1]} – {role}" if role else f"{word} {chapter.group[1]}"
    if stem in ("index", "readme"):
        return "Accueil"
    for line in outside_fences(markdown.split("\n")):
        match = re.match(r"^##\s+(.+?)\s*#*\s*$", line)
        if match:
            text = plain_text(re.sub(r"^(?:\d+(?:\.\d+)*|[a-z])\s*[).]\s*", "", match.group(1)))
            if text:
                return text[0].upper() + text[1:]
    return humanise(page.stem)


# ---------------------------------------------------------------------------- Markdown rewriting


EMOJI = {
    "star": "★", "heart": "♥", "warning": "⚠️", "arrow_right": "➡️", "arrow_left": "⬅️",
    "arrow_up": "⬆️", "arrow_down": "⬇️", "right_arrow": "➡️", "skull": "💀", "sunny": "☀️",
    "beach": "🏖️", "cry": "😢", "+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎",
    "white_check_mark": "✅", "heavy_check_mark": "✔️", "x": "❌", "rainbow": "🌈", "new": "🆕",
    "name_badge": "📛", "frowning": "😦", "smile": "😄", "smiley": "😃", "wink": "😉",
    "thinking": "🤔", "bulb": "💡", "pencil": "✏️", "pencil2": "✏️", "memo": "📝", "book": "📖",
    "books": "📚", "computer": "💻", "question": "❓", "exclamation": "❗", "point_right": "👉",
    "point_left": "👈", "tada": "🎉", "rocket": "🚀", "fire": "🔥", "eyes": "👀", "clock": "🕐",
    "hourglass": "⌛", "trophy": "🏆", "key": "🔑", "lock": "🔒", "mag": "🔍", "link": "🔗",
    "construction": "🚧", "no_entry": "⛔", "checkered_flag": "🏁", "muscle": "💪", "joy": "😂",
    "stop_sign": "🛑", "zap": "⚡", "gift": "🎁", "earth_africa": "🌍",
}  # fmt: skip
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
_ICON = re.compile(r":(?:octicons|material|fontawesome|simple)-([a-z0-9-]+):")
_ATTR_CANDIDATE = re.compile(r"(?<![\\$])\{([^{}\n]*)\}")
_ATTR_TOKEN = re.compile(
    r"""\s*(?:[.#][\w-]+|[\w-]+\s*=\s*(?:\\?"[^"]*?\\?"|'[^']*'|[^\s"'}]+)|[\w-]+)\s*"""
)
_ATTR_KEYS = {"width", "witdh", "height", "align", "target", "style", "class", "title", "loading", "rel", "id",
              "alt", "markdown", "lang"}  # fmt: skip
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_MATH_SPAN = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\d)")
_IMG_TAG = re.compile(r"<img\b([^>]*?)/?>", re.I)
_HTML_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(\\?"(.*?)\\?"|'(.*?)'|([^\s>]+))""")
_BREAK = "\x00"  # never in a page: pages with a NUL byte are skipped
_BR = re.compile(r"<\s*/?\s*br\s*/?\s*>", re.I)
_EMPTY_ANCHOR = re.compile(
    r"""<(a|i|span)\s+(?:id|name)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)\s*>\s*</\1\s*>""", re.I
)
_ALIGN_P = re.compile(r"""<(?:p|div)\s+align\s*=\s*(?:"[^"]*"|'[^']*'|\w+)\s*>""", re.I)
_TARGET = r"(?P<target><[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))+)(?P<title>\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?"
_IMAGE = re.compile(r"!\[(?P<alt>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*" + _TARGET + r"\s*\)")
_LINK = re.compile(r"(?<![!\\])\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*" + _TARGET + r"\s*\)")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)
_ADMONITION = re.compile(r"^(?P<indent>\s*)(?P<marker>!!!|\?\?\?\+?)(?P<rest>.*)$")
_TAB = re.compile(r'^(?P<indent>\s*)===(?P<open>\+?)\s+(?P<title>\\?".*?)\s*$')
_PAGE_SUFFIXES = {"", ".md", ".html", ".htm"}


class _PageConverter:
    """Rewrite the Markdown of one page line by line, collecting its media."""

    def __init__(
        self,
        path: Path,
        course_root: Path,
        skipped: ProblemList,
        line_map: list[int],
        undescribed: ProblemList | None = None,
    ):
        self.path = path
        self.course_root = course_root
        self.skipped = skipped
        self.undescribed = ProblemList() if undescribed is None else undescribed
        self.line_map = line_map
        self.media: dict[str, str] = {}
        self.blobs: dict[str, Blob] = {}
        self.line = 1
        self.centered_paragraphs = 0

    def convert(self, text: str) -> str:
        out: list[str] = []
        fences = Fences()
        tab_groups: set[int] = set()  # indentation of the content tabs met so far in open groups
        for number, line in enumerate(text.split("\n")):
            self.line = self.line_map[min(number, len(self.line_map) - 1)]
            if fences.is_code(line):
                out.append(line)
                continue
            if line.strip():
                indent = len(line) - len(line.lstrip())
                for level in [k for k in tab_groups if k >= indent]:
                    if not _TAB.match(line) or level > indent:
                        tab_groups.discard(level)
            converted = self.convert_line(line, tab_groups)
            if _ADMONITION.match(converted) and out and out[-1].strip():
                # Without a blank line, markdown-it reads the block as the end of the paragraph above.
                out.append("")
            out.append(converted)
        return "\n".join(out)

    def convert_line(self, line: str, tab_groups: set[int]) -> str:
        tab = _TAB.match(line)
        if tab:
            # Content tabs are not in our dialect: each becomes a folding block, the first one open.
            indent = len(tab["indent"])
            first = indent not in tab_groups
            tab_groups.add(indent)
            title = _unescape_quotes(tab["title"])
            marker = "???+" if first or tab["open"] else "???"
            return f"{tab['indent']}{marker} note {title}"
        admonition = _ADMONITION.match(line)
        if admonition:
            rest = _unescape_quotes(admonition["rest"]).rstrip()
            if not rest.strip() or rest.lstrip().startswith('"'):
                rest = " note" + (" " + rest.strip() if rest.strip() else "")
            line = f"{admonition['indent']}{admonition['marker']}{rest}"
        line = self.outside_code(line, self.rewrite_text)
        line = self.rewrite_targets(line)
        return self.line_breaks(line)

    def outside_code(self, line: str, rewrite) -> str:
        """Apply ``rewrite`` to the parts of ``line`` outside inline code."""
        parts, last = [], 0
        for match in _CODE_SPAN.finditer(line):
            parts.append(rewrite(line[last : match.start()]))
            # "#!python" in inline code only chose the highlighting on the site.
            parts.append(re.sub(r"^(`+)(\s*)#!\w+\s+", r"\1\2", match.group()))
            last = match.end()
        parts.append(rewrite(line[last:]))
        return "".join(parts)

    def rewrite_text(self, text: str) -> str:
        if not text:
            return text
        text = _IMG_TAG.sub(_img_to_markdown, text)
        text = _GIF_PLAYER.sub(self._gif_player_to_image, text)
        text = _IFRAME.sub(_iframe_to_link, text)
        text = _SUB_SUP.sub(_sub_sup_to_text, text)
        text = re.sub(r"</?\s*center\s*>", "", text, flags=re.I)
        text = _EMPTY_ANCHOR.sub("", text)
        text, count = _ALIGN_P.subn("", text)
        self.centered_paragraphs += count
        if self.centered_paragraphs and re.search(r"</(?:p|div)\s*>", text):
            text = re.sub(r"</(?:p|div)\s*>", "", text, count=1)
            self.centered_paragraphs -= 1
        text = _BR.sub(_BREAK, text)  # made a Markdown line break once code spans are put back
        text = _without_attribute_lists(text)
        return _emoji(text)

    def _gif_player_to_image(self, match: re.Match) -> str:
        """Show a site's animated-GIF player as the GIF itself, found in the course by its path.

        The player points at the published site (https://…/premiere_nsi/T4…/data/x.gif); the
        same file sits under the course folder, at some ending of that URL path.
        """
        src = _attributes(match.group(1)).get("src", "")
        parts = [p for p in urlsplit(src).path.split("/") if p]
        root = self.course_root.resolve()
        for start in range(len(parts)):
            for base in (self.path.parent, root / "docs", root):
                candidate = base.joinpath(*parts[start:])
                if parts[start:] and candidate.is_file():
                    relative = os.path.relpath(candidate, self.path.parent).replace(os.sep, "/")
                    return f"![Animation]({quote(relative)})"
        return f"![Animation]({src})" if src else ""

    def line_breaks(self, line: str) -> str:
        """Turn the line breaks ``rewrite_text`` marked into Markdown ones."""
        if _BREAK not in line:
            return line
        if not line.replace(_BREAK, "").strip():
            return ""
        if line.lstrip().startswith("|"):
            return line.replace(_BREAK, " ")  # a table row must stay on one line
        indent = line[: len(line) - len(line.lstrip())]
        head, *rest = line.split(_BREAK)
        return head.rstrip() + "".join(
            f"\\\n{indent}{part.strip()}" for part in rest if part.strip()
        )

    # -- images and links

    def rewrite_targets(self, line: str) -> str:
        line = self.substitute(_IMAGE, line, self.image)
        return self.substitute(_LINK, line, self.link)

    def substitute(self, pattern: re.Pattern, line: str, replace) -> str:
        """Replace matches of ``pattern`` that do not start in inline code or maths."""
        protected = [m.span() for m in _CODE_SPAN.finditer(line)] + [
            m.span() for m in _MATH_SPAN.finditer(line)
        ]
        out, last = [], 0
        for match in pattern.finditer(line):
            if any(start <= match.start() < stop for start, stop in protected):
                continue
            out.append(line[last : match.start()])
            out.append(replace(match))
            last = match.end()
        out.append(line[last:])
        return "".join(out)

    def image(self, match: re.Match) -> str:
        alt, target = match["alt"], match["target"].strip("<>").strip()
        name = PurePosixPath(unquote(target.split("#", 1)[0].split("?", 1)[0])).name or target
        fallback = f"*{alt.strip() or name}*"
        if target.startswith("//") or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            self.skip(
                "image",
                target,
                "an image on another website cannot be shown offline; keep a copy in the course folder",
            )
            return fallback
        if target.startswith("#"):
            return fallback
        written, reason = self.resolve(target, image=True)
        if written is None:
            self.skip("image", target, reason)
            return fallback
        if not alt.strip():
            self.undescribed.add(
                self.path,
                self.line,
                "image",
                f'"{target}": no description (alt text); a pupil who cannot see the image '
                "hears nothing, and a page without images shows nothing in its place",
            )
        return f"![{alt}]({written})"

    def link(self, match: re.Match) -> str:
        text, target = match["text"], match["target"].strip("<>").strip()
        if _EXTERNAL.match(target):
            return match.group()
        clean = unquote(target.split("#", 1)[0].split("?", 1)[0])
        suffix = PurePosixPath(clean).suffix.lower()
        if (
            not clean
            or clean.endswith("/")
            or suffix in _PAGE_SUFFIXES
            or (self.path.parent / clean).is_dir()
        ):
            return text  # a page of the site: its lesson has no address to point at yet
        if suffix not in MEDIA_EXTENSIONS:
            self.skip(
                "link",
                target,
                f"not a supported media type ({suffix}); the link was removed, its text kept",
            )
            return text
        written, reason = self.resolve(target, image=False)
        if written is None:
            self.skip("link", target, f"{reason}; the link was removed, its text kept")
            return text
        title = match["title"] or ""
        return f"[{text}]({written}{title})"

    def resolve(self, target: str, image: bool) -> tuple[str | None, str]:
        """Find the file a target names; return how to write it, or None and why it cannot be used."""
        clean = target.split("#", 1)[0].split("?", 1)[0]
        candidates = list(dict.fromkeys([clean, unquote(clean)]))
        path = None
        for candidate in candidates:
            try:
                resolved = (self.path.parent / PurePosixPath(candidate)).resolve()
            except (OSError, ValueError):
                continue
            if self.course_root not in resolved.parents:
                return None, "points outside the course folder"
            if resolved.is_file():
                path = candidate
                break
        if path is None:
            return None, "no such file"
        suffix = PurePosixPath(path).suffix.lower()
        if image and MEDIA_EXTENSIONS.get(suffix) not in IMAGE_TYPES:
            kind = (
                "SVG images are"
                if suffix == ".svg"
                else f"{suffix or 'files without an extension'} files are"
            )
            return None, f"{kind} not supported (use PNG, JPEG, GIF or WebP)"
        blob, reason = resolve_media(self.path.parent, path, self.course_root)
        if blob is None:
            return None, reason
        if blob.media_type in IMAGE_TYPES and not _readable_image(blob.path):
            return None, "the image cannot be read"
        # Percent-encoded, the target reads the same to the renderer as it is written here.
        written = quote(path, safe="/._-~")
        self.media[written] = blob.sha256
        self.blobs.setdefault(blob.sha256, blob)
        return written, ""

    def skip(self, kind: str, target: str, reason: str) -> None:
        self.skipped.add(self.path, self.line, kind, f'"{target}": {reason}')


def _readable_image(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            width, height = image.size
        return width > 0 and height > 0
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def _unescape_quotes(text: str) -> str:
    return text.replace('\\"', '"').replace("\\'", "'")


def _attributes(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): next(g for g in m.groups()[2:] if g is not None)
        for m in _HTML_ATTRIBUTE.finditer(text)
    }


_GIF_PLAYER = re.compile(r"<gif-player\b([^>]*)>(?:\s*</gif-player>)?", re.I)
_IFRAME = re.compile(r"<iframe\b([^>]*)>(?:.*?</iframe>)?", re.I)
_SUB_SUP = re.compile(r"<(sub|sup)>([^<]{1,40})</\1>", re.I)
_SUBSCRIPTS = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUPERSCRIPTS = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")


def _iframe_to_link(match: re.Match) -> str:
    """Turn an embedded page (a video, a code visualiser) into a plain link: nothing loads by itself."""
    src = _attributes(match.group(1)).get("src", "")
    if not src.startswith(("http://", "https://")):
        return ""
    host = urlsplit(src).hostname or src
    return f"[▶ {host}]({src})"


def _sub_sup_to_text(match: re.Match) -> str:
    """Write 1101<sub>2</sub> as 1101₂ (and powers as ²): raw HTML is not rendered."""
    tag, body = match.group(1).lower(), match.group(2)
    table = _SUBSCRIPTS if tag == "sub" else _SUPERSCRIPTS
    converted = body.translate(table)
    if all(ch in "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ" for ch in converted):
        return converted
    return f"_{body}" if tag == "sub" else f"^{body}"


def _img_to_markdown(match: re.Match) -> str:
    attributes = _attributes(match.group(1))
    src = attributes.get("src", "").strip()
    if not src:
        return match.group()
    alt = attributes.get("alt", "").replace("[", "(").replace("]", ")")
    return f"![{alt}]({src})"


def _without_attribute_lists(text: str) -> str:
    """Drop MkDocs attribute lists: "{: .center}", "{ width=300 }", "{:target="_blank"}"."""

    def replace(match: re.Match) -> str:
        body = match.group(1).strip()
        marked = body.startswith((":", "."))
        body = body[1:] if marked else body
        tokens = _ATTR_TOKEN.findall(body)
        if "".join(tokens).strip() != body.strip() or not body.strip() and not marked:
            return match.group()
        if not marked and not any(
            t.strip()[0] in ".#" or t.split("=")[0].strip().lower() in _ATTR_KEYS for t in tokens
        ):
            return match.group()
        return ""

    protected = [m.span() for m in _MATH_SPAN.finditer(text)]
    if not protected:
        return _ATTR_CANDIDATE.sub(replace, text)
    out, last = [], 0
    for start, stop in protected:
        out.append(_ATTR_CANDIDATE.sub(replace, text[last:start]))
        out.append(text[start:stop])
        last = stop
    out.append(_ATTR_CANDIDATE.sub(replace, text[last:]))
    return "".join(out)


def _emoji(text: str) -> str:
    """Turn emoji shortcodes into characters; leave anything else between colons alone."""

    def icon(match: re.Match) -> str:
        return "☆" if "star" in match.group(1) else ""

    text = _ICON.sub(icon, text)
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group()), text)


# ---------------------------------------------------------------------------- plain text


def plain_text(text: str) -> str:
    """Return the words of a line of Markdown: no links, emphasis, code marks or tags."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"`+", "", text)
    text = re.sub(r"(?<!\w)(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", text)
    text = re.sub(r"\s+#+\s*$", "", text)
    return re.sub(r"\s+", " ", text).strip()


def summary_of(pages: list[str]) -> str:
    """Return the first paragraph of plain text of the pages, shortened at a word boundary.

    Prose at the top level comes first, then prose inside blocks, then the items of a list
    (a "sommaire" page has nothing else).
    """
    found: list[tuple[int, str]] = []
    for markdown in pages:
        block: list[str] = []
        kind = 0
        for line in [*outside_fences(markdown.split("\n")), ""]:
            stripped = line.strip()
            listed = bool(_LIST_ITEM.match(stripped))
            if _ends_paragraph(stripped) or (block and listed != (kind == 2)):
                if block:
                    found.append((kind, (", " if kind == 2 else " ").join(block)))
                block = []
                if _ends_paragraph(stripped):
                    continue
            if not block:
                kind = 2 if listed else (1 if line.startswith(("    ", "\t")) else 0)
            block.append(_LIST_ITEM.sub("", stripped))
    candidates = [(kind, plain_text(text)) for kind, text in found]
    for preference in (0, 1, 2):
        for kind, plain in candidates:
            if kind == preference and _is_prose(plain, 40 if preference < 2 else 10):
                return _shorten(plain)
    for _, plain in candidates:
        if _is_prose(plain, 10):
            return _shorten(plain)
    return ""


_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def _ends_paragraph(stripped: str) -> bool:
    return (
        not stripped
        or stripped.startswith(("#", "!!!", "???", "|", "<", "$$", "===", ">"))
        or bool(re.match(r"^!\[[^\]]*\]\([^)]*\)$", stripped))
    )


def _is_prose(text: str, minimum: int) -> bool:
    """Tell whether ``text`` reads as words, not as a rule of dashes or a lone image caption."""
    letters = sum(char.isalpha() for char in text)
    return len(text) >= minimum and letters >= len(text) / 2 and len(text.split()) >= 3


def _shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    text = unicodedata.normalize("NFC", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.–-") + "…"
