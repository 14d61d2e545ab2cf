"""What every ``imaginecole`` command that touches the database shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import current_app
from flask.cli import with_appcontext

from imaginecole.extensions import db
from imaginecole.models import ensure_schema

P = ParamSpec("P")
R = TypeVar("R")


def database_command(function: Callable[P, R]) -> Callable[P, R]:
    """Run a command in the app context, on a whole schema, in one transaction.

    The transaction is committed when the command ends, also by ``sys.exit`` after it has
    reported what it did (``content load`` keeps the good modules and exits 1 for the others);
    an exception or Ctrl+C rolls it back.
    """

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        ensure_schema(current_app)
        try:
            result = function(*args, **kwargs)
        except SystemExit:
            db.session.commit()
            raise
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return result

    return with_appcontext(run)
