"""Languages: French first, English and Arabic (right to left); the language lives in the URL."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, abort, current_app, g, redirect, request, url_for

from imaginecole.config import (
    LANGUAGES,
    PACKAGED_TRANSLATIONS_DIR,
    RTL_LANGUAGES,
    TRANSLATIONS_DIR,
)

bp = Blueprint("i18n", __name__)

LANGUAGE_NAMES = {"fr": "Français", "en": "English", "ar": "العربية"}


def current_language() -> str:
    """Return the language of the page being served."""
    lang = g.get("lang")
    if lang in LANGUAGES:
        return lang
    if request:
        # An address that no route matches (a 404) still states its language: /en/…
        prefix = request.path.lstrip("/").split("/", 1)[0]
        if prefix in LANGUAGES:
            return prefix
    return preferred_language()


def preferred_language() -> str:
    """Return the visitor's preferred language from Accept-Language, French by default."""
    if not request:
        return current_app.config["DEFAULT_LANGUAGE"]
    return request.accept_languages.best_match(
        LANGUAGES, default=current_app.config["DEFAULT_LANGUAGE"]
    )


@bp.route("/")
def root():
    response = redirect(url_for("catalog.home", lang=preferred_language()))
    response.headers["Vary"] = "Accept-Language"
    return response


def register(app: Flask) -> None:
    @app.url_value_preprocessor
    def pull_language(endpoint, values):
        if values and "lang" in values:
            g.view_args = dict(values)
            lang = values.pop("lang")
            if lang not in LANGUAGES:
                abort(404)
            g.lang = lang

    @app.url_defaults
    def add_language(endpoint, values):
        if "lang" not in values and app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = current_language()

    @app.context_processor
    def language_context():
        lang = current_language()
        return {
            "lang": lang,
            "text_direction": "rtl" if lang in RTL_LANGUAGES else "ltr",
            "language_links": _language_links,
            "LANGUAGE_NAMES": LANGUAGE_NAMES,
        }


def _language_links() -> list[tuple[str, str, str]]:
    """Return (code, name, URL of this page in that language) for the language switcher."""
    endpoint = request.endpoint
    args = dict(g.get("view_args") or {})
    links = []
    for code in LANGUAGES:
        if endpoint and "lang" in args:
            url = url_for(endpoint, **{**args, "lang": code})
        else:
            url = url_for("catalog.home", lang=code)
        links.append((code, LANGUAGE_NAMES[code], url))
    return links


def catalogs_directory() -> Path:
    """Return the folder of compiled catalogs, compiling a checkout's stale ones first.

    A checkout has the translators' ``translations/``; an installed app has its catalogs compiled
    inside the package, in a folder that may be read-only and is never written to.
    """
    if any(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po")):
        compile_catalogs_if_stale(TRANSLATIONS_DIR)
        return TRANSLATIONS_DIR
    return PACKAGED_TRANSLATIONS_DIR


def compile_catalogs_if_stale(translations_dir: Path) -> None:
    """Compile each messages.po whose .mo is missing or older, so a checkout runs as is."""
    for po_path in translations_dir.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        compile_catalog(po_path, mo_path)


def compile_catalog(po_path: Path, mo_path: Path) -> None:
    with po_path.open("rb") as stream:
        catalog = read_po(stream, locale=po_path.parent.parent.name)
    # Written under a temporary name and renamed, so concurrent workers never read half a file.
    fd, temp_name = tempfile.mkstemp(dir=mo_path.parent, prefix=".tmp-", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        os.replace(temp_name, mo_path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
