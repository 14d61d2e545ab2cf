"""A server with zz loaded and one account of each role, for the accounts tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.extensions import db
from tests.conftest import copy_data_dir, load_content, make_app

PASSWORD = "correct horse battery"
ORIGIN = {"Origin": "http://localhost"}
TEACHER = "awa@ecole-a.zz"
EDITOR = "moussa@education.zz"
ADMIN = "root@imaginecole.zz"
FAST_HASH = "scrypt:1024:8:1"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A data folder with zz loaded and one account of each role, copied for each test."""
    folder = tmp_path_factory.mktemp("accounts") / "data"
    app = make_app(folder)
    assert not load_content(app).problems
    with app.app_context():
        create_user(TEACHER, "Awa Diop", PASSWORD, "teacher", "zz", "École A")
        create_user(EDITOR, "Moussa Ba", PASSWORD, "editor", "zz")
        create_user(ADMIN, "Admin", PASSWORD, "admin")
        # Same check at login, far fewer rounds: these tests sign in hundreds of times. The
        # hash the app makes by itself is checked in the users create test.
        for user in db.session.scalars(select(User)):
            user.password_hash = generate_password_hash(PASSWORD, FAST_HASH)
        db.session.commit()
        db.engine.dispose()
    return folder


@pytest.fixture
def site(template, tmp_path):
    """A fresh app of its own (a copy of the template's data), for a test that writes."""
    copy_data_dir(template, tmp_path / "data")
    return make_app(tmp_path / "data")
