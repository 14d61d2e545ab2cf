"""The application factory: settings, extensions, every domain's pages and commands."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

import imaginecole.models  # noqa: F401  (every table, so relationships across domains resolve)
from imaginecole import errors, i18n, security, sides, templating
from imaginecole.accounts import auth
from imaginecole.accounts.views import bp as accounts_bp
from imaginecole.api.views import bp as api_bp
from imaginecole.bundles.opds import bp as opds_bp
from imaginecole.bundles.views import bp as bundles_bp
from imaginecole.catalog.crawlers import bp as crawlers_bp
from imaginecole.catalog.views import bp as catalog_bp
from imaginecole.cli import register_commands
from imaginecole.config import DEFAULTS, check_database_url, proxy_count, search_engine_for
from imaginecole.coverage.views import bp as coverage_bp
from imaginecole.curation.views import bp as curation_bp
from imaginecole.curriculum.views import bp as curriculum_bp
from imaginecole.datadir import secret_key, shared_dir
from imaginecole.exports.views import bp as exports_bp
from imaginecole.extensions import babel, db, migrate
from imaginecole.limits import refuse_texts_that_do_not_fit
from imaginecole.media.views import bp as media_bp
from imaginecole.national.views import bp as national_bp
from imaginecole.oai.queries import record_removals
from imaginecole.oai.views import bp as oai_bp
from imaginecole.pages import setup as pages
from imaginecole.review.views import bp as review_bp
from imaginecole.search.views import bp as search_bp
from imaginecole.submissions.views import bp as submissions_bp
from imaginecole.uploads.views import bp as uploads_bp

BLUEPRINTS = (
    i18n.bp,
    catalog_bp,
    media_bp,
    search_bp,
    accounts_bp,
    bundles_bp,
    submissions_bp,
    review_bp,
    national_bp,
    uploads_bp,
    curation_bp,
    curriculum_bp,
    coverage_bp,
    oai_bp,
    crawlers_bp,
    api_bp,
    opds_bp,
    exports_bp,
)


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
    shared = shared_dir(data_dir, app.config["SHARED_DIR"])
    app.config["SHARED_DIR"] = str(shared)
    app.config["BLOB_DIR"] = str(shared / "blobs")
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        app.config["DATABASE_URL"] or f"sqlite:///{data_dir / 'imaginecole.sqlite3'}",
    )
    check_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SEARCH_ENGINE"] = search_engine_for(
        app.config["SEARCH_ENGINE"], app.config["SQLALCHEMY_DATABASE_URI"]
    )
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or secret_key(shared)
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(i18n.catalogs_directory())
    app.config["JSON_AS_ASCII"] = False
    # A whole form (text and the files sent with it) may be a little more than one file's limit.
    app.config["MAX_CONTENT_LENGTH"] = (int(app.config["MAX_UPLOAD_MB"]) + 2) * 1024 * 1024

    proxies = proxy_count(app.config["PROXIES"])
    if proxies:
        # Behind nginx the client's address, scheme and host arrive in X-Forwarded-* headers:
        # login throttling must count the client, not the proxy, and the same-site check must
        # compare the browser's Origin with the host it asked for.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    db.init_app(app)
    # Flask-Migrate adds its own `db` commands; register_commands replaces them with ours,
    # which take the upgrade lock and refuse a database upgraded by a newer version.
    migrate.init_app(app)
    babel.init_app(app, locale_selector=i18n.current_language)

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    auth.register(app)
    sides.register(app)
    errors.register(app)
    security.register(app)
    i18n.register(app)
    templating.register(app)
    pages.register(app)
    register_commands(app)
    return app


# The last guard before the database: PostgreSQL would refuse such a text with an error
# that carries the statement's values.
event.listen(Session, "before_flush", refuse_texts_that_do_not_fit)
# Harvesters must learn of every public module that leaves, whichever way it leaves.
event.listen(Session, "before_flush", record_removals)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # WAL lets pupils read while content is loading; foreign keys are off by default in SQLite.
    # FULL waits for the disk at each commit, so a power cut loses nothing committed
    # (docs/decisions.md, 16).
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
