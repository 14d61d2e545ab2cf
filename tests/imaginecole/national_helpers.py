"""Set-up shared by the national tests: apps with content, accounts, signed-in clients, pages."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from imaginecole.accounts.models import User
from imaginecole.extensions import db
from tests.conftest import TEST_CONTENT, load_content, make_app

PASSWORD = "correct horse battery"

# One account of each kind, as (name before @example.org, role, country).
ACCOUNTS = (
    ("editor-zz", "editor", "zz"),
    ("editor-yy", "editor", "yy"),
    ("teacher-zz", "teacher", "zz"),
    ("admin", "admin", None),
)

# A second country, yy, with a curriculum but no competency.
YY_CURRICULUM = """\
code = "yy"
languages = ["fr"]

[name]
fr = "Ygrecland"

[framework]
id = "yy-test"
version = "2024"
title = { fr = "Programme d'essai Y" }

[[cycles]]
code = "primaire"
name = { fr = "Primaire" }

[[levels]]
code = "CE1"
cycle = "primaire"
isced = 1
grade = 3
name = { fr = "Cours élémentaire 1" }

[[domains]]
slug = "humanites"
name = { fr = "Humanités" }

[[subjects]]
slug = "geographie"
domain = "humanites"
name = { fr = "Géographie" }
"""


def write_yy(content: Path, curriculum: str = YY_CURRICULUM) -> None:
    """Add the country yy, with ``curriculum``, to the content folder ``content``."""
    (content / "yy").mkdir(parents=True, exist_ok=True)
    (content / "yy" / "curriculum.toml").write_text(curriculum, encoding="utf-8")


def copy_test_content(target: Path, curriculum: str = YY_CURRICULUM) -> Path:
    """Copy the zz test content to ``target`` and add yy with ``curriculum``; return ``target``."""
    shutil.copytree(TEST_CONTENT, target)
    write_yy(target, curriculum)
    return target


def loaded_app(data_dir: Path, content: Path, **config):
    """An app on ``data_dir`` with ``content`` loaded, which must load without a problem."""
    app = make_app(data_dir, **config)
    report = load_content(app, content)
    assert not report.problems, report.problems
    return app


def add_accounts(app, people=ACCOUNTS) -> None:
    """Add an account ``name``@example.org for each (name, role, country) of ``people``.

    They have no password: tests sign them in by setting the session directly.
    """
    with app.app_context():
        for who, role, country in people:
            db.session.add(
                User(
                    email=f"{who}@example.org",
                    name=who.replace("-", " ").title(),
                    password_hash="!",
                    role=role,
                    country_code=country,
                )
            )
        db.session.commit()


def signed_in(app, email: str | None, csrf: str = "token"):
    """Return a test client signed in as ``email`` (anonymous when None), with this CSRF token.

    The session is set directly, so no password is ever checked.
    """
    client = app.test_client()
    if email is not None:
        with app.app_context():
            user = db.session.scalar(select(User).filter_by(email=email))
            user_id, version = user.id, user.session_version
        with client.session_transaction() as session:
            session["user_id"] = user_id
            session["version"] = version
            session["csrf"] = csrf
    return client


def client_as(app, who: str | None):
    """A client signed in as ``who``@example.org (anonymous when None), for ``post``.

    Its CSRF token is "token-``who``", and ``client.who`` says who it is.
    """
    client = signed_in(app, None if who is None else f"{who}@example.org", f"token-{who}")
    client.who = who
    return client


def post(client, url: str, data=None, token: bool = True, **kwargs):
    """Post ``data`` from a ``client_as`` client, with its CSRF token unless ``token`` is False."""
    data = MultiDict(data or {})
    if token and client.who:
        data["csrf_token"] = f"token-{client.who}"
    return client.post(url, data=data, **kwargs)


class Page(HTMLParser):
    """Forms, scripts and the text of a page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.scripts: list[dict] = []
        self.inline_scripts = 0
        self._in_script = False
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({**attrs, "inputs": []})
        elif tag in ("input", "select", "button", "textarea") and self.forms:
            self.forms[-1]["inputs"].append({"tag": tag, **attrs})
        elif tag == "script":
            self.scripts.append(attrs)
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text_parts))
