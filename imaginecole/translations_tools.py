"""Drive Babel's message tools for ``imaginecole translations`` (pybabel cannot read setup.cfg)."""

from __future__ import annotations

from babel.messages.frontend import CommandLineInterface

from imaginecole.config import LANGUAGES, PROJECT_ROOT, TRANSLATIONS_DIR
from imaginecole.i18n import compile_catalog

POT = TRANSLATIONS_DIR / "messages.pot"
BABEL_CFG = TRANSLATIONS_DIR / "babel.cfg"


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    _pybabel(
        "extract", "-F", str(BABEL_CFG), "-k", "_l", "-k", "lazy_gettext",
        "--no-location", "--sort-output", "--project", "Imaginecole",
        "-o", str(POT), str(PROJECT_ROOT / "imaginecole"),
    )  # fmt: skip


def update() -> None:
    for lang in LANGUAGES:
        po = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"
        if po.exists():
            _pybabel(
                "update", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "-l", lang,
                "--no-fuzzy-matching", "--ignore-obsolete",
            )  # fmt: skip
        else:
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "-l", lang)


def compile_all() -> None:
    for po in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"):
        compile_catalog(po, po.with_suffix(".mo"))
