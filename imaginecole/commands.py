"""What every ``imaginecole`` command that touches the database shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from imaginecole.extensions import db
from imaginecole.limits import TextDoesNotFit
from imaginecole.schema import SchemaError, ensure_schema

P = ParamSpec("P")
R = TypeVar("R")


def check_database(app: Flask) -> None:
    """Bring the database to this code's schema, or stop the command with a one-line message."""
    try:
        ensure_schema(app)
    except SchemaError as error:
        raise click.ClickException(str(error)) from error
    except OperationalError as error:
        raise unreachable_database(error) from None


def database_command(function: Callable[P, R]) -> Callable[P, R]:
    """Run a command in the app context, on a database at this code's schema, in one transaction.

    The transaction is committed when the command ends, also by ``sys.exit`` after it has
    reported what it did (``content load`` keeps the good modules and exits 1 for the others);
    an exception or Ctrl+C rolls it back. A database or disk error becomes a one-line message
    rather than a traceback.
    """

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        check_database(current_app)
        try:
            result = function(*args, **kwargs)
        except SystemExit:
            db.session.commit()
            raise
        except SQLAlchemyError as error:
            db.session.rollback()
            raise click.ClickException(
                f"The database refused the change: {_first_line(error)}. Nothing was changed."
            ) from error
        except TextDoesNotFit as error:
            db.session.rollback()
            raise click.ClickException(f"{error}. Nothing was changed.") from None
        except OSError as error:
            db.session.rollback()
            raise click.ClickException(
                f"A file could not be written or read: {error}. Nothing was changed."
            ) from error
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return result

    return with_appcontext(run)


def unreachable_database(error: OperationalError) -> click.ClickException:
    """Return the one-line message of a database that refuses the connection (no password)."""
    return click.ClickException(
        f"The database cannot be reached: {_first_line(error)}. "
        "Check the setting IMAGINECOLE_DATABASE_URL (imaginecole settings shows it)."
    )


def _first_line(error: SQLAlchemyError) -> str:
    # The driver's own words only: SQLAlchemy's message adds the statement and its
    # parameters, which may hold a password hash.
    cause = getattr(error, "orig", None) or error
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
