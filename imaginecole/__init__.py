"""Imaginecole: curriculum-aligned open educational resources that work offline."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from imaginecole.config import DEFAULTS
from imaginecole.extensions import babel, db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    # The data directory must be known before Flask is created: it is the instance path.
    data_dir = Path(
        (test_config or {}).get("DATA_DIR")
        or os.environ.get("IMAGINECOLE_DATA_DIR")
        or DEFAULTS["DATA_DIR"]
    ).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__, instance_path=str(data_dir))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 365 * 24 * 3600  # static URLs carry a content hash
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("IMAGINECOLE")
    if test_config:
        app.config.update(test_config)
    app.config["DATA_DIR"] = str(data_dir)
    app.config["BLOB_DIR"] = str(data_dir / "blobs")
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        app.config["DATABASE_URL"] or f"sqlite:///{data_dir / 'imaginecole.sqlite3'}",
    )
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _secret_key(data_dir)
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    app.config["JSON_AS_ASCII"] = False
    # A whole form (text and the files sent with it) may be a little more than one file's limit.
    app.config["MAX_CONTENT_LENGTH"] = (int(app.config["MAX_UPLOAD_MB"]) + 2) * 1024 * 1024

    from imaginecole import i18n

    i18n.compile_catalogs_if_stale(TRANSLATIONS_DIR)
    db.init_app(app)
    babel.init_app(app, locale_selector=i18n.current_language)

    from imaginecole import auth, errors, security, templating
    from imaginecole.accounts.views import bp as accounts_bp
    from imaginecole.admin.views import bp as admin_bp
    from imaginecole.catalog.views import bp as catalog_bp
    from imaginecole.cli import register_commands
    from imaginecole.media.views import bp as media_bp
    from imaginecole.national import bp as national_bp
    from imaginecole.review.views import bp as review_bp
    from imaginecole.search.views import bp as search_bp
    from imaginecole.submissions.views import bp as submissions_bp

    app.register_blueprint(i18n.bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(submissions_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(national_bp)
    auth.register(app)
    errors.register(app)
    security.register(app)
    i18n.register(app)
    templating.register(app)
    register_commands(app)
    return app


def _secret_key(data_dir: Path) -> str:
    """Return the instance's secret key, creating it on first start."""
    path = data_dir / "secret_key"
    if not path.exists():
        # Written with O_EXCL so two workers starting together agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # WAL lets pupils read while content is loading; foreign keys are off by default in SQLite.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def ensure_schema(app: Flask) -> None:
    """Create missing tables (a fresh data directory needs no separate step)."""
    with app.app_context():
        import imaginecole.models  # noqa: F401  (registers the tables)

        db.create_all()


def prepare(app: Flask) -> None:
    """Create missing tables and bring the search index up to date, before serving."""
    from sqlalchemy.exc import OperationalError

    from imaginecole.services.search import sync_index

    try:
        ensure_schema(app)
    except OperationalError:
        # Another worker created the same tables at the same moment; theirs are as good.
        ensure_schema(app)
    with app.app_context():
        report = sync_index()
    if report.updated or report.removed:
        app.logger.info(
            "Search index: %s modules indexed, %s removed", report.updated, report.removed
        )
