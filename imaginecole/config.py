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
        "Folder holding this host's runtime state: its SQLite database, search index, file "
        "locks; and everything else unless SHARED_DIR says otherwise",
    ),
    Setting(
        "SHARED_DIR",
        "",
        "Folder every app host of a server mounts (e.g. over NFS): media blobs, published "
        "bundles, uploads and their pieces, the outbox, keys, the trust file, the session "
        "secret; empty means DATA_DIR (one host)",
    ),
    Setting("DATABASE_URL", "", "SQLAlchemy URL of the database; empty means SQLite in DATA_DIR"),
    Setting(
        "SEARCH_ENGINE",
        "auto",
        "Search engine: whoosh (an index in DATA_DIR, one host), postgresql (tables in the "
        "PostgreSQL database, shared by every host), or auto: postgresql on a PostgreSQL "
        "database, else whoosh",
    ),
    Setting("CONTENT_DIR", "content", "Folder that `imaginecole content load` reads by default"),
    Setting(
        "SECRET_KEY",
        "",
        "Key that signs sessions; empty means one is generated and kept in SHARED_DIR",
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
        "SERVER_WORKER_MEMORY_MB",
        0,
        "Megabytes of memory (resident, shared pages included) above which a worker process of "
        "`imaginecole serve` is replaced by a fresh one, giving back what it grew by; checked "
        "every 10 seconds; 0 never replaces them. For a box short of memory: a fresh worker "
        "reads its pages and search index again. With several workers on Linux, also set the "
        "system's net.ipv4.tcp_migrate_req=1, or connections waiting for a replaced worker may "
        "be reset",
    ),
    Setting(
        "PAGE_CACHE_DIR",
        "",
        "Folder of the pages kept for readers who are not signed in; empty means DATA_DIR/pages "
        "(several hosts of one national server may share one)",
    ),
    Setting(
        "PAGE_CACHE_MB",
        200,
        "Megabytes of pages kept in PAGE_CACHE_DIR; 0 turns the page cache off",
    ),
    Setting(
        "PAGE_CACHE_MEMORY_MB",
        2,
        "Megabytes of the most read pages each worker process keeps in memory",
    ),
    Setting(
        "SIGNING_KEY",
        "",
        "Private key that signs bundles built here; empty means SHARED_DIR/keys/publisher.key",
    ),
    Setting(
        "TRUST_FILE",
        "",
        "Keys whose bundles this server accepts, per country; empty means SHARED_DIR/trust.toml",
    ),
    Setting(
        "PROXIES",
        0,
        "How many proxies (nginx…) stand between clients and the app, each adding to "
        "X-Forwarded-For/-Proto/-Host; 0 when clients connect directly. Login throttling and "
        "the same-site check then see the real client and host; never more than there are, or "
        "a client could forge its address",
    ),
    Setting(
        "ACCEL_REDIRECT",
        "",
        "Internal path (such as /_shared/) under which the front server serves SHARED_DIR; "
        "media and bundle downloads are then sent by it (X-Accel-Redirect) after the app's "
        "checks. Empty: the app sends the files itself",
    ),
    Setting(
        "SERVER_ROLE",
        "school",
        "Which tools this server shows: school (install bundles, teachers' resources, outbox), "
        "national (upload, curate, publish, review) or both (to try everything on one machine)",
    ),
    Setting(
        "BUNDLE_SEARCH_PATHS",
        ("/media", "/mnt", "/run/media"),
        "Folders (USB drives are mounted there) that the admin page searches for bundles",
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "Address readers and harvesters reach this server at (https://oer.example.org), for "
        "canonical links, OAI-PMH, sitemaps and feeds; empty means the address of each request",
    ),
    Setting(
        "CONTACT_EMAIL",
        "",
        "Address shown to harvesters (OAI-PMH Identify); empty means webmaster@ the server's host",
    ),
    Setting("OAI_PAGE_SIZE", 100, "Records in one OAI-PMH list response before a resumptionToken"),
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


def proxy_count(value: object) -> int:
    """Return the PROXIES setting as a number; raise SettingError when it is not one."""
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < 0:
        raise SettingError(
            f"IMAGINECOLE_PROXIES is {value!r}; it must be how many proxies stand in front of "
            "the app: 0 when clients connect directly, 1 behind one nginx."
        )
    return number


SEARCH_ENGINES = ("auto", "whoosh", "postgresql")


def search_engine_for(setting: str, database_url: str) -> str:
    """Return the search engine the setting chooses for the database at ``database_url``.

    Raise SettingError for an unknown engine, or postgresql on another database.
    """
    engine = (setting or "auto").strip().lower()
    if engine not in SEARCH_ENGINES:
        raise SettingError(
            f"IMAGINECOLE_SEARCH_ENGINE is {setting!r}; it must be one of "
            f"{', '.join(SEARCH_ENGINES)}."
        )
    on_postgresql = make_url(database_url).get_backend_name() == "postgresql"
    if engine == "postgresql" and not on_postgresql:
        raise SettingError(
            "IMAGINECOLE_SEARCH_ENGINE is postgresql, but the database is not PostgreSQL: "
            "set IMAGINECOLE_DATABASE_URL to a PostgreSQL database, or the search engine to "
            "whoosh (or auto)."
        )
    if engine == "auto":
        return "postgresql" if on_postgresql else "whoosh"
    return engine


def without_password(url: str) -> str:
    """Return a database URL fit to show: its password, if any, replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


LANGUAGES = ("fr", "en", "ar")
RTL_LANGUAGES = ("ar",)
