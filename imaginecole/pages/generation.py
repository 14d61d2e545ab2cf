"""Move the content generation on with every write readers could see, and read it cheaply.

Every flush or bulk statement that touches a table outside ``PRIVATE_TABLES`` sets a new
generation in the same transaction, so the generation changes exactly when such a write
commits, whichever domain, command or page made it. A table added later counts as content
until it is named here: a page served from an older generation is worse than a page rendered
once more.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, event, inspect, update
from sqlalchemy.orm import ORMExecuteState, Session

from imaginecole.extensions import db
from imaginecole.pages.models import ContentState

# Tables no anonymous page shows: accounts, private work in progress, logs of what was sent.
PRIVATE_TABLES = frozenset(
    {
        "user",
        "login_failure",
        "build_job",
        "built_bundle",
        "signing_key",
        "content_upload",
        "upload",
        "submission",
        "revision",
        "review",
        "exported_package",
        "received_package",
        "enrolled_school",
        "review_assignment",
        "password_link",
        "content_state",
    }
)
_STATE_TABLE = ContentState.__table__
_BUMPED = "imaginecole.generation_bumped"  # in session.info: once per transaction is enough


def new_generation() -> int:
    # A random number rather than a counter: a database restored from a backup and then written
    # to must never reach a number whose pages were rendered from other content.
    return secrets.randbits(62)


def bump(session: Session) -> None:
    """Give the content a new generation, in the session's transaction."""
    connection = session.connection()
    if not _has_state_table(connection):
        return  # a database not yet upgraded (only while upgrading): no page is served from it
    changed = connection.execute(
        update(_STATE_TABLE).where(_STATE_TABLE.c.id == 1).values(generation=new_generation())
    )
    if changed.rowcount == 0:
        connection.execute(_STATE_TABLE.insert().values(id=1, generation=new_generation()))
    session.info[_BUMPED] = True


_ENGINES_WITH_STATE: weakref.WeakSet[Engine] = weakref.WeakSet()


def _has_state_table(connection: Connection) -> bool:
    # Only the answer "yes" is remembered: a database upgraded later gains the table.
    if connection.engine in _ENGINES_WITH_STATE:
        return True
    if not inspect(connection).has_table(_STATE_TABLE.name):
        return False
    _ENGINES_WITH_STATE.add(connection.engine)
    return True


def _touches_content(tables: set[str]) -> bool:
    return bool(tables - PRIVATE_TABLES)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(_BUMPED):
        return
    tables = {
        instance.__table__.name
        for instance in (*session.new, *session.dirty, *session.deleted)
        if hasattr(instance, "__table__")
    }
    if _touches_content(tables):
        bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if state.session.info.get(_BUMPED):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name is None or _touches_content({name}):
        bump(state.session)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_bump(session: Session) -> None:
    session.info.pop(_BUMPED, None)


_GENERATION_SQL = f"SELECT generation FROM {_STATE_TABLE.name} WHERE id = 1"


def generation_in_session() -> int:
    """Return the generation as the current session's transaction sees it."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()  # as a query would: pending writes move the generation on
    # A plain statement: the ORM's machinery cost more than the read, on every page rendered.
    row = session.connection().exec_driver_sql(_GENERATION_SQL).first()
    return (row[0] if row else 0) or 0


T = TypeVar("T")


class PerGeneration(Generic[T]):
    """A value worked out from the content once per generation and key, kept by each app.

    ``compute(*key)`` reads the current session; its result is kept under the generation that
    session's snapshot shows, so it never outlives the content it came from: the commit of any
    content write moves the generation on, and the next call computes the value again. For
    what many pages show and few writes change (the names of countries, classes, subjects).
    """

    def __init__(self, compute: Callable[..., T]) -> None:
        self.compute = compute
        self.lock = threading.Lock()

    def __call__(self, *key: Hashable) -> T:
        generation = generation_in_session()
        kept = current_app.extensions.setdefault(f"imaginecole.per_generation.{id(self)}", {})
        with self.lock:
            if kept.get("generation") != generation:
                kept.clear()
                kept["generation"] = generation
                kept["values"] = {}
            values = kept["values"]
            if key in values:
                return values[key]
        value = self.compute(*key)
        with self.lock:
            if kept.get("generation") == generation:
                values[key] = value
        return value


class GenerationReader:
    """Read the committed generation on a connection of each thread's own, one query a call.

    The connection stays outside any transaction (autocommit), so each read sees the last
    commit: the pool's checkout and SQLAlchemy's statement machinery would cost more than the
    query itself, and this runs for every page served from the cache.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.local = threading.local()

    def __call__(self) -> int:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT generation FROM content_state WHERE id = 1")
            row = cursor.fetchone()
            cursor.close()
        except Exception:
            # A broken connection (the database restarted): the next call opens a new one.
            self.local.connection = None
            connection.close()
            raise
        return row[0] if row else 0

    def _connect(self) -> Any:
        with self.app.app_context():
            fairy = db.engine.raw_connection()
        fairy.detach()  # this thread's for good: not counted against the pool
        driver = fairy.driver_connection
        if type(driver).__module__.startswith("psycopg"):
            driver.autocommit = True
        return fairy

    def reset(self) -> None:
        """Forget every thread's connection: called in a process just forked."""
        self.local = threading.local()
