"""Row locks that make two processes allocating "the next number" take turns."""

from __future__ import annotations

from typing import Any

from imaginecole.extensions import db


def lock_row(model: type[Any], key: object) -> None:
    """Hold a lock on one row of ``model`` until the transaction ends (PostgreSQL).

    Take it before reading a next number (a bundle's version…): a second process doing the same
    waits for the first to commit, then reads the number it stored. The lock lets other
    transactions insert rows that refer to the locked one (``FOR NO KEY UPDATE``). SQLite lets
    one transaction write at a time for the whole database and needs no row lock; taking its
    write lock early would block the writes a long operation makes on other connections
    (a build's progress).
    """
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.get(model, key, with_for_update={"key_share": True}, populate_existing=True)
