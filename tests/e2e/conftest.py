"""Fixtures for the browser tests: the real server in a subprocess, and Chromium.

The server is started the way a school runs it, with ``imaginecole serve``, on 127.0.0.1 and a
free port, over a throw-away data directory loaded with the fictional country zz.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_CONTENT, load_content, make_app
from tests.live_server import start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The real server over the zz test content; yields a ``LiveServer``."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    app = make_app(data_dir)
    report = load_content(app, TEST_CONTENT)
    assert not report.problems, report.problems
    with app.app_context():
        from imaginecole.extensions import db

        db.engine.dispose()  # the server process opens the database on its own
    try:
        server = start_server(data_dir, tmp_path_factory.mktemp("e2e-log") / "server.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright; never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
            "Run `bash .ci/test`, which installs it (apt-get install chromium)."
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")
