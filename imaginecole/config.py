"""Settings, each declared once with its default and what it is for.

Every setting can be given as an environment variable with the ``IMAGINECOLE_`` prefix
(``IMAGINECOLE_DATA_DIR=/srv/school``); ``imaginecole settings`` lists them.
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where translators work, in a checkout; an installed wheel carries the compiled catalogs in the
# package instead (.ci/build_backend.py puts them there).
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
PACKAGED_TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

Setting = namedtuple("Setting", "name default help")

SETTINGS = (
    Setting(
        "DATA_DIR",
        "instance",
        "Folder holding all runtime state: database, media blobs, search index, keys",
    ),
    Setting("DATABASE_URL", "", "SQLAlchemy URL of the database; empty means SQLite in DATA_DIR"),
    Setting("CONTENT_DIR", "content", "Folder that `imaginecole content load` reads by default"),
    Setting(
        "SECRET_KEY",
        "",
        "Key that signs sessions; empty means one is generated and kept in DATA_DIR",
    ),
    Setting("DEFAULT_LANGUAGE", "fr", "Language used when the browser states no preference"),
    Setting("IMAGE_WIDTHS", (320, 640, 1024), "Widths in pixels that lesson images are resized to"),
    Setting("MAX_UPLOAD_MB", 50, "Largest file, in megabytes, a teacher may upload"),
    Setting("MAX_ZIP_MB", 500, "Largest ZIP, in megabytes, a national editor may upload"),
    Setting(
        "MAX_VIDEO_MB",
        50,
        "Largest video, in megabytes, a lesson may hold; the content check refuses bigger ones "
        "(pupils pay for their data)",
    ),
    Setting("ZIP_MAX_FILES", 20000, "Most files a ZIP upload may hold"),
    Setting("ZIP_MAX_UNPACKED_MB", 2000, "Most megabytes a ZIP upload may hold once unpacked"),
    Setting(
        "MAX_IMAGE_PIXELS",
        40_000_000,
        "Largest image, in pixels, that is decoded; bigger ones are refused",
    ),
    Setting(
        "IMAGE_MEMORY_MB",
        192,
        "Memory, in megabytes, one worker process may use to open images at once; an image "
        "needing more is refused (a JPEG photo is opened at a reduced size instead)",
    ),
    Setting(
        "SERVER_WORKERS",
        0,
        "Worker processes of `imaginecole serve`; 0 means one per CPU, at most 4",
    ),
    Setting("SERVER_THREADS", 4, "Threads of each worker process of `imaginecole serve`"),
    Setting(
        "SIGNING_KEY",
        "",
        "Private key that signs bundles built here; empty means DATA_DIR/keys/publisher.key",
    ),
    Setting(
        "TRUST_FILE",
        "",
        "Keys whose bundles this server accepts, per country; empty means DATA_DIR/trust.toml",
    ),
    Setting(
        "BUNDLE_SEARCH_PATHS",
        ("/media", "/mnt", "/run/media"),
        "Folders (USB drives are mounted there) that the admin page searches for bundles",
    ),
)

DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


class SettingError(ValueError):
    """A setting the app cannot start with; the message says which and what to do."""


def check_database_url(url: str) -> None:
    """Raise SettingError when ``url`` is not a database URL or its driver is not installed."""
    try:
        dialect = make_url(url).get_dialect()
    except ArgumentError:
        raise SettingError(
            f"IMAGINECOLE_DATABASE_URL is not a database URL this app can use: "
            f"{without_password(url)}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise SettingError(
            f"The driver for {dialect.name} databases ({error.name}) is not installed; "
            "for PostgreSQL: pip install 'imaginecole[postgresql]'."
        ) from None


def without_password(url: str) -> str:
    """Return a database URL fit to show: its password, if any, replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


LANGUAGES = ("fr", "en", "ar")
RTL_LANGUAGES = ("ar",)
