"""The catalogue as a pupil or teacher sees it, in French, English and Arabic.

Pages must work on a school LAN with no internet: nothing from another host, no JavaScript,
no cookies for anonymous readers, small pages, and a module that can be taken home as a ZIP.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from PIL import Image

from imaginecole.catalog import queries
from imaginecole.config import TRANSLATIONS_DIR
from imaginecole.rendering.markdown import render_markdown
from tests.conftest import CORPUS, load_content

LANGS = ("fr", "en", "ar")
DIRECTION = {"fr": "ltr", "en": "ltr", "ar": "rtl"}
PAGES = {
    "home": "/{lang}/",
    "country": "/{lang}/zz/",
    "level": "/{lang}/zz/cm1/",
    "subject": "/{lang}/zz/cm1/mathematiques/",
    "module": "/{lang}/modules/zz-maths-fractions/",
    "lesson": "/{lang}/modules/zz-maths-fractions/lire-une-fraction",
}
DOWNLOAD = "/{lang}/modules/zz-maths-fractions/download.zip"
LESSONS = [
    "/{lang}/modules/zz-maths-fractions/lire-une-fraction",
    "/{lang}/modules/zz-maths-fractions/comparer",
    "/{lang}/modules/zz-histoire-royaume/grandes-dates",
    "/{lang}/modules/zz-sciences-eau/evaporation",
]
EVERY_PAGE = [
    "/{lang}/",
    "/{lang}/zz/",
    "/{lang}/zz/cm1/",
    "/{lang}/zz/7e-annee/",
    "/{lang}/zz/cm1/mathematiques/",
    "/{lang}/zz/cm1/sciences/",
    "/{lang}/zz/cm1/histoire/",
    "/{lang}/zz/7e-annee/histoire/",
    "/{lang}/zz/7e-annee/sciences/",
    "/{lang}/modules/zz-maths-fractions/",
    "/{lang}/modules/zz-histoire-royaume/",
    "/{lang}/modules/zz-sciences-eau/",
    *LESSONS,
]
ALL_HTML = [page.format(lang=lang) for page in EVERY_PAGE for lang in LANGS]
NOT_TRANSLATED = "This lesson is not translated yet; it is shown in its original language."
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# ---------------------------------------------------------------------------- helpers


class Page(HTMLParser):
    """A parsed page: its tags with attributes, and each text with the language it is in."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.contexts: list[tuple[str, ...]] = []  # the open elements around each tag
        self.texts: list[tuple[str, str, tuple[str, ...]]] = []  # (text, lang, open tags)
        self.style_blocks: list[str] = []
        self._stack: list[tuple[str, str, str]] = []  # (tag, lang, class)
        self.feed(html)
        self.close()

    def _where(self) -> tuple[str, ...]:
        return tuple(f"{t}.{c}" if c else t for t, _, c in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attrs))
        self.contexts.append(self._where())
        if tag in VOID:
            return
        lang = attrs.get("lang") or (self._stack[-1][1] if self._stack else "")
        self._stack.append((tag, lang, attrs.get("class", "")))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self.contexts.append(self._where())

    def handle_endtag(self, tag):
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                return

    def handle_data(self, data):
        if self._stack and self._stack[-1][0] == "style":
            self.style_blocks.append(data)
        if data.strip():
            lang = self._stack[-1][1] if self._stack else ""
            self.texts.append((data.strip(), lang, self._where()))

    def html_tag(self) -> dict[str, str]:
        return next(attrs for tag, attrs in self.tags if tag == "html")

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def links_in(self, marker: str) -> list[str]:
        """Return the href of each link inside an element like ``nav.breadcrumb``."""
        return [
            attrs["href"]
            for (tag, attrs), where in zip(self.tags, self.contexts, strict=True)
            if tag == "a" and "href" in attrs and any(w.startswith(marker) for w in where)
        ]

    def text(self) -> str:
        return " ".join(text for text, _, _ in self.texts)

    def lang_of(self, needle: str) -> set[str]:
        """Return the languages the text ``needle`` is marked with, wherever it appears."""
        return {lang for text, lang, where in self.texts if needle in text and "title" not in where}


def get_page(client, url: str, status: int = 200, **kwargs) -> Page:
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def translation(lang: str, msgid: str) -> str:
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        catalog = read_po(stream, locale=lang)
    return catalog[msgid].string or msgid


def is_local(url: str) -> bool:
    parts = urlsplit(url.strip())
    return not parts.scheme and not parts.netloc


def srcset_urls(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


# ---------------------------------------------------------------------------- languages


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_in_every_language(client, name, lang):
    page = get_page(client, PAGES[name].format(lang=lang))

    assert page.html_tag() == {"lang": lang, "dir": DIRECTION[lang]}
    assert page.named("main")


@pytest.mark.parametrize("lang", LANGS)
def test_the_download_in_every_language(client, lang):
    response = client.get(DOWNLOAD.format(lang=lang))

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"zz-maths-fractions-v1-{lang}.zip" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        index = Page(archive.read("zz-maths-fractions/index.html").decode("utf-8"))
    assert index.html_tag() == {"lang": lang, "dir": DIRECTION[lang]}


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        (None, "fr"),
        ("fr-SN,fr;q=0.9", "fr"),
        ("en-GB,en;q=0.8", "en"),
        ("ar-MA", "ar"),
        ("de-DE, de;q=0.9", "fr"),
        ("wo, en;q=0.5", "en"),
        ("ar;q=0.4, en;q=0.7", "en"),
    ],
)
def test_the_root_sends_each_visitor_to_their_language(client, accept, lang):
    response = client.get("/", headers={"Accept-Language": accept} if accept else {})

    assert response.status_code in (301, 302, 303, 307, 308)
    assert urlsplit(response.headers["Location"]).path == f"/{lang}/"
    assert "Accept-Language" in response.headers.get("Vary", "")


@pytest.mark.parametrize(
    ("lang", "home", "language"),
    [("fr", "Accueil", "Langue"), ("en", "Home", "Language"), ("ar", "الرئيسية", "اللغة")],
)
def test_interface_strings_are_translated(client, lang, home, language):
    page = get_page(client, f"/{lang}/zz/")

    breadcrumb = [t for t, _, where in page.texts if "nav.breadcrumb" in where]
    assert breadcrumb[0] == home
    assert [
        nav.get("aria-label") for nav in page.named("nav") if nav.get("class") == "languages"
    ] == [language]
    if lang != "en":
        assert "Home" not in breadcrumb


def test_the_language_switcher_keeps_the_same_page(client):
    page = get_page(client, "/ar/modules/zz-maths-fractions/comparer")

    switcher = {a["hreflang"]: a["href"] for a in page.named("a") if "hreflang" in a}
    assert switcher == {lang: f"/{lang}/modules/zz-maths-fractions/comparer" for lang in LANGS}


@pytest.mark.parametrize(
    ("lang", "title", "body"),
    [
        ("fr", "Lire une fraction", "partage l'unité"),
        ("en", "Reading a fraction", "shares a whole"),
        ("ar", "قراءة كسر", "يقسم الوحدة"),
    ],
)
def test_a_translated_lesson_is_shown_in_the_chosen_language(client, lang, title, body):
    page = get_page(client, f"/{lang}/modules/zz-maths-fractions/lire-une-fraction")

    [article] = [a for a in page.named("article") if "lesson" in a.get("class", "")]
    assert article.get("lang", lang) == lang
    assert page.lang_of(title) == {lang}
    assert body in page.text()
    assert translation(lang, NOT_TRANSLATED) not in page.text()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_an_untranslated_lesson_is_shown_in_french_marked_as_such(client, lang):
    page = get_page(client, f"/{lang}/modules/zz-sciences-eau/evaporation")

    [article] = [a for a in page.named("article") if "lesson" in a.get("class", "")]
    assert (article["lang"], article["dir"]) == ("fr", "ltr")
    assert page.lang_of("L'évaporation de l'eau") >= {"fr"}
    assert page.lang_of("la mare") == {"fr"}
    # The notice is in the reader's language, inside the French article.
    notice = translation(lang, NOT_TRANSLATED)
    if lang != "en":
        assert notice != NOT_TRANSLATED
    assert page.lang_of(notice) == {lang}


def test_an_untranslated_module_title_is_marked_french(client):
    page = get_page(client, "/en/modules/zz-sciences-eau/")

    headings = [(text, lang) for text, lang, where in page.texts if "h1" in where]
    assert headings == [("Le cycle de l'eau", "fr")]


def test_french_titles_in_the_breadcrumb_are_marked_french(client):
    page = get_page(client, "/en/modules/zz-sciences-eau/evaporation")

    assert page.lang_of("Le cycle de l'eau") == {"fr"}
    assert page.lang_of("L'évaporation de l'eau") == {"fr"}


# ---------------------------------------------------------------------------- navigation


def test_lesson_breadcrumb_leads_back_up(client):
    page = get_page(client, "/en/modules/zz-maths-fractions/comparer")

    trail = [
        "/en/",
        "/en/zz/",
        "/en/zz/cm1/",
        "/en/zz/cm1/mathematiques/",
        "/en/modules/zz-maths-fractions/",
    ]
    assert page.links_in("nav.breadcrumb") == trail
    breadcrumb = [t for t, _, where in page.texts if "nav.breadcrumb" in where]
    assert breadcrumb == [
        "Home",
        "Zedland",
        "CM1",
        "Mathematics",
        "Fractions",
        "Comparing fractions",
    ]
    for url in trail:
        assert client.get(url).status_code == 200


def test_lessons_link_to_the_previous_and_next_ones(client):
    first = get_page(client, "/fr/modules/zz-maths-fractions/lire-une-fraction")
    second = get_page(client, "/fr/modules/zz-maths-fractions/comparer")

    def pager(page, rel):
        return [a["href"] for a in page.named("a") if a.get("rel") == rel]

    assert pager(first, "prev") == []
    assert pager(first, "next") == ["/fr/modules/zz-maths-fractions/comparer"]
    assert pager(second, "prev") == ["/fr/modules/zz-maths-fractions/lire-une-fraction"]
    assert pager(second, "next") == []
    assert "Comparer des fractions" in first.text()


def test_the_subject_page_groups_modules_under_their_top_competency(client):
    page = get_page(client, "/fr/zz/cm1/mathematiques/")

    headings = [text for text, _, where in page.texts if "section" in where and "h2" in where]
    # The module teaches ZZ-MATH-1-1; it is shown under its root, ZZ-MATH-1.
    assert headings == ["Résoudre des problèmes avec les fractions", "ZZ-MATH-1"]
    cards = [a["href"] for a in page.named("a") if a.get("href", "").startswith("/fr/modules/")]
    assert cards == ["/fr/modules/zz-maths-fractions/"]


def test_modules_without_competency_are_grouped_apart(client):
    page = get_page(client, "/fr/zz/7e-annee/histoire/")

    headings = [text for text, _, where in page.texts if "section" in where and "h2" in where]
    assert headings == [translation("fr", "Other modules")]
    assert "/fr/modules/zz-histoire-royaume/" in [a["href"] for a in page.named("a")]


def test_an_empty_subject_says_so(client):
    page = get_page(client, "/fr/zz/cm1/histoire/")

    assert translation("fr", "There is no module for this subject and class yet.") in page.text()
    assert not [a for a in page.named("a") if a.get("href", "").startswith("/fr/modules/")]


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "path",
    [
        "/{lang}/yy/",
        "/{lang}/zz/cm7/",
        "/{lang}/zz/cm1/physique/",
        "/{lang}/modules/zz-nope/",
        "/{lang}/modules/zz-maths-fractions/nope",
        "/{lang}/modules/zz-nope/download.zip",
        "/{lang}/zz/nope/",
        "/{lang}/zz/cm1/mathematiques/too/deep",
    ],
    ids=["country", "level", "subject", "module", "lesson", "download", "nope", "no-route"],
)
@pytest.mark.parametrize(
    ("lang", "title"),
    [("fr", "Page introuvable"), ("en", "Page not found"), ("ar", "الصفحة غير موجودة")],
)
def test_unknown_pages_are_a_friendly_404_in_the_visitors_language(client, path, lang, title):
    page = get_page(client, path.format(lang=lang), status=404)

    assert page.html_tag() == {"lang": lang, "dir": DIRECTION[lang]}
    assert [t for t, _, where in page.texts if where[-1] == "h1"] == [title]
    assert f"/{lang}/" in [a["href"] for a in page.named("a")]  # a way back home


@pytest.mark.parametrize(
    ("accept", "lang", "title"),
    [
        (None, "fr", "Page introuvable"),
        ("en", "en", "Page not found"),
        ("ar", "ar", "الصفحة غير موجودة"),
    ],
)
def test_an_unknown_language_is_a_404_in_the_browsers_language(client, accept, lang, title):
    headers = {"Accept-Language": accept} if accept else {}

    page = get_page(client, "/de/zz/", status=404, headers=headers)

    assert page.html_tag()["lang"] == lang
    assert title in page.text()


@pytest.mark.parametrize("lang", LANGS)
def test_a_server_error_is_a_friendly_page_without_a_traceback(client, monkeypatch, lang):
    def broken(*args, **kwargs):
        raise RuntimeError("database exploded: SELECT secret FROM internals")

    monkeypatch.setattr(queries, "get_module", broken)

    response = client.get(f"/{lang}/modules/zz-maths-fractions/")

    assert response.status_code == 500
    html = response.get_data(as_text=True)
    page = Page(html)
    assert page.html_tag() == {"lang": lang, "dir": DIRECTION[lang]}
    assert translation(lang, "Something went wrong") in page.text()
    for leak in ("Traceback", "RuntimeError", "exploded", "SELECT", "queries.py", 'File "'):
        assert leak not in html


# ---------------------------------------------------------------------------- privacy and safety


def anonymous_responses(client):
    for url in ["/", "/static/style.css", "/en/zz/nope/", "/xx/", *ALL_HTML]:
        yield url, client.get(url)
    for lang in LANGS:
        yield DOWNLOAD, client.get(DOWNLOAD.format(lang=lang))
    page = get_page(client, "/fr/modules/zz-maths-fractions/lire-une-fraction")
    for img in page.named("img"):
        yield img["src"], client.get(img["src"])


def test_no_cookie_is_ever_set_for_an_anonymous_reader(client):
    for url, response in anonymous_responses(client):
        assert "Set-Cookie" not in response.headers, url


@pytest.mark.parametrize("url", ALL_HTML)
def test_pages_use_nothing_from_another_host_and_no_script(client, url):
    response = client.get(url)
    page = Page(response.get_data(as_text=True))

    # JSON-LD is data for search engines: a browser never runs it and it loads nothing.
    data_blocks = [s for s in page.named("script") if s == {"type": "application/ld+json"}]
    assert page.named("script") == data_blocks
    assert page.named("iframe") == []
    for tag, attrs in page.tags:
        for name in ("src", "poster", "data"):
            if name in attrs:
                assert is_local(attrs[name]), (tag, attrs)
        if "srcset" in attrs:
            assert all(is_local(u) for u in srcset_urls(attrs["srcset"])), (tag, attrs)
        if attrs.get("rel") == "license":
            continue  # names the licence's page for readers and robots; nothing is loaded
        if tag in ("link", "script", "form", "base") and ("href" in attrs or "action" in attrs):
            assert is_local(attrs.get("href") or attrs.get("action")), (tag, attrs)
        if "style" in attrs:
            assert all(is_local(u) for u in CSS_URL.findall(attrs["style"])), (tag, attrs)
    for block in page.style_blocks:
        assert all(is_local(u) for u in CSS_URL.findall(block))
    # Authors may link to the web inside a lesson's text; everything else stays on this server.
    for (tag, attrs), where in zip(page.tags, page.contexts, strict=True):
        if (
            tag == "a"
            and "href" in attrs
            and attrs.get("rel") != "license"
            and not any(w.startswith("article.lesson") for w in where)
        ):
            assert is_local(attrs["href"]), attrs


def test_the_stylesheet_loads_nothing_from_elsewhere_and_is_cached_long(client):
    page = get_page(client, "/fr/")
    [sheet] = [link["href"] for link in page.named("link") if link.get("rel") == "stylesheet"]
    assert is_local(sheet) and "v=" in urlsplit(sheet).query  # the URL changes with the file

    response = client.get(sheet)

    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert all(is_local(u) for u in CSS_URL.findall(css))
    assert "@import" not in css
    max_age = int(re.search(r"max-age=(\d+)", response.headers["Cache-Control"]).group(1))
    assert max_age >= 30 * 24 * 3600


@pytest.mark.parametrize("url", ["/fr/", "/en/zz/cm1/", "/ar/modules/zz-maths-fractions/comparer"])
def test_pages_carry_a_strict_content_security_policy(client, url):
    policy = client.get(url).headers["Content-Security-Policy"]

    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives.get("script-src", [])
    assert "'unsafe-eval'" not in policy


def test_lesson_media_open_in_the_browser_and_cannot_be_framed(client):
    page = get_page(client, "/fr/modules/zz-maths-fractions/lire-une-fraction")
    [img] = page.named("img")

    response = client.get(img["src"])

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "inline"
    policy = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]


def test_the_raw_script_of_a_lesson_is_shown_as_text(client):
    page = get_page(client, "/fr/modules/zz-histoire-royaume/grandes-dates")

    assert page.named("script") == [{"type": "application/ld+json"}]  # the page's metadata only
    assert '<script>alert("raw html must never run")</script>' in page.text()


def test_lessons_show_maths_as_mathml_and_pictures_lazily(client):
    page = get_page(client, "/fr/modules/zz-maths-fractions/lire-une-fraction")

    assert {m.get("display") for m in page.named("math")} == {"inline", "block"}
    [img] = page.named("img")
    assert img["loading"] == "lazy" and img["alt"] == "Un disque partagé en quatre parts égales"
    assert (img["width"], img["height"]) == ("800", "600")
    [source] = page.named("source")
    assert source["type"] == "image/webp"
    assert [w.split()[1] for w in source["srcset"].split(", ")] == ["320w", "640w", "800w"]


# ---------------------------------------------------------------------------- budget


@pytest.mark.parametrize("url", [page.format(lang=lang) for page in LESSONS for lang in LANGS])
def test_a_lesson_with_its_stylesheet_fits_in_30_kb_gzipped(client, url):
    html = client.get(url)
    assert html.status_code == 200
    sheet = [
        link["href"]
        for link in Page(html.get_data(as_text=True)).named("link")
        if link.get("rel") == "stylesheet"
    ]
    css = b"".join(client.get(href).data for href in sheet)

    assert len(gzip.compress(html.data)) + len(gzip.compress(css)) <= 30 * 1024


@pytest.mark.corpus
def test_nine_corpus_lessons_in_ten_fit_in_30_kb_gzipped_with_their_formulas(client):
    """Every Markdown page of the real corpus, rendered into the lesson page around it."""
    if not CORPUS.is_dir():
        pytest.skip(f"the course corpus is not at {CORPUS}")
    page = client.get(LESSONS[0].format(lang="fr")).get_data(as_text=True)
    before, _, rest = page.partition('<article class="lesson">')
    after = rest.partition("</article>")[2]
    css = client.get(Page(page).named("link")[0]["href"]).data
    sources = [
        p for p in sorted(CORPUS.rglob("*.md")) if p.name not in ("README.md", "ATTRIBUTION.md")
    ]
    sizes = [
        len(
            gzip.compress(
                f"{before}<article>{render_markdown(p.read_text('utf-8'))}</article>{after}".encode()
            )
        )
        + len(gzip.compress(css))
        for p in sources
    ]

    assert len(sizes) > 100
    within = sum(size <= 30 * 1024 for size in sizes)
    assert within >= 0.9 * len(sizes), sorted(sizes)[-10:]


# ---------------------------------------------------------------------------- offline ZIP


def open_zip(client, url: str) -> zipfile.ZipFile:
    response = client.get(url)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    return archive


@pytest.mark.parametrize("lang", LANGS)
def test_the_module_zip_holds_a_complete_offline_copy(client, lang):
    archive = open_zip(client, DOWNLOAD.format(lang=lang))
    names = set(archive.namelist())
    root = "zz-maths-fractions/"

    assert {
        root + "index.html",
        root + "01-lire-une-fraction.html",
        root + "02-comparer.html",
        root + "style.css",
        root + "LICENCE.txt",
    } <= names
    assert all(name.startswith(root) for name in names)
    assert len([n for n in names if n.endswith(".html")]) == 3  # the index and one per lesson

    licence = archive.read(root + "LICENCE.txt").decode("utf-8")
    assert "CC-BY-SA-4.0" in licence
    assert "Awa Diallo" in licence
    assert "Équipe d'essai" in licence

    for name in names:
        if not name.endswith(".html"):
            continue
        page = Page(archive.read(name).decode("utf-8"))
        assert page.named("script") == []
        assert page.html_tag() == {"lang": lang, "dir": DIRECTION[lang]}
        for tag, attrs in page.tags:
            for attribute in ("src", "href"):
                target = attrs.get(attribute)
                if target is None or target.startswith("#"):
                    continue
                assert is_local(target) and not target.startswith("/"), (name, tag, target)
                resolved = str(PurePosixPath(name).parent / urlsplit(target).path)
                assert resolved in names, (name, target)


def test_the_zip_lessons_are_in_the_chosen_language(client):
    arabic = open_zip(client, DOWNLOAD.format(lang="ar"))
    english = open_zip(client, DOWNLOAD.format(lang="en"))

    lesson = Page(arabic.read("zz-maths-fractions/01-lire-une-fraction.html").decode("utf-8"))
    assert lesson.lang_of("قراءة كسر") == {"ar"}

    lesson = Page(english.read("zz-maths-fractions/01-lire-une-fraction.html").decode("utf-8"))
    assert "Reading a fraction" in lesson.text()
    [img] = lesson.named("img")
    assert img["alt"] == "A disc shared into four equal parts"
    with Image.open(io.BytesIO(english.read("zz-maths-fractions/" + img["src"]))) as picture:
        assert picture.size == (800, 600)


def test_an_untranslated_zip_keeps_french_marked_as_french(client):
    archive = open_zip(client, "/en/modules/zz-sciences-eau/download.zip")

    lesson = Page(archive.read("zz-sciences-eau/01-evaporation.html").decode("utf-8"))

    assert lesson.html_tag()["lang"] == "en"
    assert lesson.lang_of("la mare") == {"fr"}


# ---------------------------------------------------------------------------- media


def lesson_media(client) -> tuple[str, list[str]]:
    page = get_page(client, "/fr/modules/zz-maths-fractions/lire-une-fraction")
    [img] = page.named("img")
    [source] = page.named("source")
    return img["src"], srcset_urls(source["srcset"])


def test_media_are_served_by_hash_with_an_immutable_cache(client):
    fallback, webp = lesson_media(client)

    for url, media_type in [(fallback, "image/jpeg"), *((u, "image/webp") for u in webp)]:
        assert re.fullmatch(r"/media/[0-9a-f]{64}\.(jpg|webp)", url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == media_type
        cache = response.headers["Cache-Control"]
        assert "immutable" in cache and "max-age=31536000" in cache
        with Image.open(io.BytesIO(response.data)) as image:
            assert Image.MIME[image.format] == media_type


def test_behind_nginx_media_are_left_to_it_once_the_app_has_said_yes(loaded_app, monkeypatch):
    monkeypatch.setitem(loaded_app.config, "ACCEL_REDIRECT", "/_shared/")
    client = loaded_app.test_client()
    fallback, _ = lesson_media(client)
    sha = fallback.removeprefix("/media/").removesuffix(".jpg")

    response = client.get(fallback)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Accel-Redirect"] == f"/_shared/blobs/{sha[:2]}/{sha[2:4]}/{sha}"
    assert response.mimetype == "image/jpeg"
    assert "immutable" in response.headers["Cache-Control"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    for refused in ("0" * 64 + ".jpg", f"{sha}.png"):
        answer = client.get("/media/" + refused)
        assert answer.status_code == 404 and "X-Accel-Redirect" not in answer.headers


@pytest.mark.parametrize(
    "name",
    [
        "0" * 64 + ".jpg",  # unknown hash
        "abc.jpg",  # not a hash
        "{sha}.png",  # wrong extension
        "{sha}.jpeg",
        "{sha}",  # no extension
        "{SHA}.jpg",  # upper case
        "{sha}.jpg.html",
        "{sha}.jpg%00",
    ],
)
def test_media_names_that_do_not_match_a_file_are_404(client, name):
    fallback, _ = lesson_media(client)
    sha = fallback.removeprefix("/media/").removesuffix(".jpg")

    response = client.get("/media/" + name.format(sha=sha, SHA=sha.upper()))

    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")


# ---------------------------------------------------------------------------- printed module


def test_the_module_page_leads_to_its_printable_version(client):
    page = get_page(client, "/fr/modules/zz-maths-fractions/")

    assert "/fr/modules/zz-maths-fractions/print" in [a.get("href") for a in page.named("a")]


@pytest.mark.parametrize("lang", LANGS)
def test_the_printed_module_holds_every_lesson_with_answers_open_and_credits_once(client, lang):
    page = get_page(client, f"/{lang}/modules/zz-maths-fractions/print")
    html = client.get(f"/{lang}/modules/zz-maths-fractions/print").get_data(as_text=True)

    lessons = [a for a in page.named("section") if "print-lesson" in a.get("class", "")]
    assert len(lessons) == 2
    assert {"fr": "Zedland", "en": "Zedland", "ar": "زدلاند"}[lang] in page.text()
    assert html.count('class="licence"') == 1
    assert all("open" in d for d in page.named("details"))
    if lang == "fr":  # the French lesson hides its correction in a <details> on screen
        assert page.named("details")
    assert all(img.get("loading") != "lazy" for img in page.named("img"))
    assert page.named("math")
    assert page.html_tag()["dir"] == DIRECTION[lang]


def test_the_printed_module_of_an_unknown_module_is_not_found(client):
    get_page(client, "/fr/modules/zz-nothing-here/print", status=404)


# ---------------------------------------------------------------------------- bidirectional text

OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reverses everything after it, up to an isolate


@pytest.fixture
def overriding_client(app, content_copy):
    toml = content_copy / "zz" / "modules" / "zz-maths-fractions" / "module.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('name = "Awa Diallo"', f'name = "Awa {OVERRIDE}Diallo"')
    text = text.replace(
        'attribution = "Équipe d\'essai"', f'attribution = "{OVERRIDE}Équipe d\'essai"'
    )
    toml.write_text(text, encoding="utf-8")
    report = load_content(app, content_copy)
    assert not report.problems, report.problems
    return app.test_client()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "url", ["/{lang}/modules/zz-maths-fractions/", "/{lang}/modules/zz-maths-fractions/comparer"]
)
def test_a_control_character_in_a_credit_cannot_reorder_the_interface(overriding_client, url, lang):
    html = overriding_client.get(url.format(lang=lang)).get_data(as_text=True)

    # Every occurrence sits alone inside a <bdi>, whose end closes the override.
    pieces = re.findall(rf"<bdi>[^<]*{OVERRIDE}[^<]*</bdi>", html)
    assert pieces and len(pieces) == html.count(OVERRIDE)


def test_titles_in_the_interface_language_are_isolated_too(client):
    page = client.get("/ar/modules/zz-maths-fractions/").get_data(as_text=True)

    assert "<h1><bdi>الكسور</bdi></h1>" in page


# ---------------------------------------------------------------------------- what leads somewhere


@pytest.mark.parametrize("lang", LANGS)
def test_a_level_lists_subjects_with_modules_and_folds_the_empty_ones(client, lang):
    page = get_page(client, f"/{lang}/zz/cm1/")
    html = client.get(f"/{lang}/zz/cm1/").get_data(as_text=True)

    subject_links = [h for h in page.links_in("main") if h.startswith(f"/{lang}/zz/cm1/")]
    assert subject_links == [f"/{lang}/zz/cm1/mathematiques/", f"/{lang}/zz/cm1/sciences/"]
    # History has no module in CM1: named in a folded list, not a link to an empty page.
    folded = html.partition('<details class="not-yet">')[2].partition("</details>")[0]
    assert "(1)" in folded and "<a " not in folded
    assert f"/{lang}/zz/cm1/histoire/" not in html


def test_search_results_come_before_the_facets(client):
    html = client.get("/fr/search?q=fraction").get_data(as_text=True)

    assert 0 < html.index('<ol class="results">') < html.index('<aside class="facets"')


@pytest.mark.parametrize(("lang", "unit"), [("fr", "ko"), ("en", "kB"), ("ar", "ك.ب")])
def test_the_download_button_says_how_big_the_zip_may_be(client, lang, unit):
    html = client.get(f"/{lang}/modules/zz-maths-fractions/").get_data(as_text=True)
    actual = len(client.get(DOWNLOAD.format(lang=lang)).data)

    shown = re.search(rf"<small>[^<]*?(\d+) {unit}</small>", html)
    assert shown, html
    # Never much less than the real ZIP, and the right order of size (the Arabic ZIP has no
    # picture: its lessons use none).
    assert actual * 0.7 <= int(shown.group(1)) * 1000 <= actual * 3, (shown.group(0), actual)


@pytest.mark.parametrize(
    ("lang", "country", "subject"),
    [("fr", "Zedland", "Mathématiques"), ("ar", "زدلاند", "الرياضيات")],
)
def test_the_offline_index_says_what_it_is_for_and_the_licence_once(client, lang, country, subject):
    data = client.get(DOWNLOAD.format(lang=lang)).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        index = archive.read("zz-maths-fractions/index.html").decode()
    page = Page(index)

    facts = page.text()
    assert country in facts and "CM1" in facts and subject in facts
    assert index.count("CC BY-SA") + index.count("CC-BY-SA") <= 2  # its name and code, once
    assert index.count(licence_name_in(client, lang)) == 1


def licence_name_in(client, lang: str) -> str:
    """The licence's name as the module page shows it in ``lang``."""
    html = client.get(f"/{lang}/modules/zz-maths-fractions/").get_data(as_text=True)
    return re.search(r"</strong> ([^<]+) <small class=\"code\">CC-BY-SA-4.0", html).group(1)


def test_chapters_are_listed_in_natural_order(app, content_copy):
    modules = content_copy / "zz" / "modules"
    for number in (1, 2, 10, 11):
        folder = modules / f"zz-maths-chapitre-{number}"
        shutil.copytree(modules / "zz-maths-fractions", folder)
        toml = folder / "module.toml"
        text = toml.read_text(encoding="utf-8").replace(
            'id = "zz-maths-fractions"', f'id = "zz-maths-chapitre-{number}"'
        )
        toml.write_text(
            text.replace('competencies = ["ZZ-MATH-1-1"]', "competencies = []"), "utf-8"
        )
    report = load_content(app, content_copy)
    assert not report.problems, report.problems

    page = get_page(app.test_client(), "/fr/zz/cm1/mathematiques/")
    chapters = [h for h in page.links_in("main") if "chapitre" in h]
    assert chapters == [f"/fr/modules/zz-maths-chapitre-{n}/" for n in (1, 2, 10, 11)]
