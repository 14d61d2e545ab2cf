"""The SERVER_ROLE setting: a school server shows a school's tools, a national server its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from imaginecole.config import DEFAULTS, SettingError
from tests.conftest import REPO_ROOT, database_env, load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as, post

NATIONAL_PAGES = [
    "/en/national/",
    "/en/national/zz/upload",
    "/en/national/zz/curriculum",
    "/en/national/zz/coverage",
    "/en/national/zz/publish",
    "/en/review/",
]
SCHOOL_PAGES = ["/en/admin/bundles", "/en/admin/outbox", "/en/my/submissions"]
SHARED_PAGES = ["/en/", "/en/zz/", "/en/search?q=eau", "/en/modules/zz-sciences-eau/"]
NATIONAL_LINKS = ["National team", "Review"]
SCHOOL_LINKS = ["Administration", "Outbox", "My resources"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sides")
    app = make_app(path)
    load_content(app)
    add_accounts(app, [("admin", "admin", None)])
    return path


def server(data_dir, role: str):
    return make_app(data_dir, SERVER_ROLE=role)


def statuses(app, pages: list[str]) -> dict[str, int]:
    admin = client_as(app, "admin")
    return {page: admin.get(page).status_code for page in pages}


def links(app) -> set[str]:
    page = client_as(app, "admin").get("/en/").get_data(as_text=True)
    return {text for text in NATIONAL_LINKS + SCHOOL_LINKS if f">{text}</a>" in page}


def test_a_school_server_shows_no_national_tool(data_dir):
    app = server(data_dir, "school")
    assert set(statuses(app, NATIONAL_PAGES).values()) == {404}
    assert set(statuses(app, SCHOOL_PAGES + SHARED_PAGES).values()) == {200}
    assert links(app) == set(SCHOOL_LINKS)


def test_a_national_server_shows_no_school_tool(data_dir):
    app = server(data_dir, "national")
    assert set(statuses(app, SCHOOL_PAGES).values()) == {404}
    assert set(statuses(app, NATIONAL_PAGES + SHARED_PAGES).values()) == {200}
    assert links(app) == set(NATIONAL_LINKS)
    # A school form posted to a national server changes nothing there.
    assert post(client_as(app, "admin"), "/en/admin/bundles/install-all").status_code == 404


def test_both_shows_everything_and_school_is_the_default(data_dir):
    app = server(data_dir, "both")
    assert set(statuses(app, NATIONAL_PAGES + SCHOOL_PAGES).values()) == {200}
    assert links(app) == set(NATIONAL_LINKS + SCHOOL_LINKS)
    # Schools are many and set up by few hands; a national server is set up on purpose.
    assert DEFAULTS["SERVER_ROLE"] == "school"


def test_an_unknown_role_is_refused_at_start_naming_the_choices(tmp_path):
    with pytest.raises(SettingError, match="use one of school, national, both"):
        make_app(tmp_path / "data", SERVER_ROLE="ministry")
    env = database_env(tmp_path / "cli") | {"IMAGINECOLE_SERVER_ROLE": "ministry"}
    result = subprocess.run(
        [sys.executable, "-m", "imaginecole", "settings"],
        env=env | {"PATH": "/usr/bin:/bin"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "The setting SERVER_ROLE is 'ministry'" in result.stderr
    assert "Traceback" not in result.stderr
