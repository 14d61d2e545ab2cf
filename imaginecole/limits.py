"""What text a column can hold, checked before the database sees it.

SQLite stores any length and any character; PostgreSQL refuses a value longer than its column
(``String(200)``) and the NUL character in any text. Operations check the fields a person
types with ``text_problem`` and say which field is wrong; ``refuse_texts_that_do_not_fit``
runs before every flush as the last guard, so that no value reaches the database's own error
(whose message would carry the statement and its values, a password hash among them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, String, inspect
from sqlalchemy.orm import InstrumentedAttribute, Session


class TextDoesNotFit(ValueError):
    """A value that its column cannot hold; the message names the table's field."""


def text_problem(attribute: InstrumentedAttribute, value: str | None) -> str | None:
    """Return why ``value`` cannot be stored in ``attribute``'s column, or None if it can."""
    return _problem(attribute.property.columns[0], value)


def refuse_texts_that_do_not_fit(session: Session, _context: Any, _instances: Any) -> None:
    """Raise TextDoesNotFit for the first new or changed text that its column cannot hold."""
    for instance in (*session.new, *session.dirty):
        mapper = inspect(instance).mapper
        for column in mapper.columns:
            value = getattr(instance, mapper.get_property_by_column(column).key, None)
            problem = _problem(column, value)
            if problem:
                raise TextDoesNotFit(f"The {column.key} of a {column.table.name} {problem}")


def _problem(column: Column, value: object) -> str | None:
    if not isinstance(value, str) or not isinstance(column.type, String):
        return None
    if "\x00" in value:
        return "contains a NUL character"
    limit = column.type.length
    if limit is not None and len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} fit"
    return None
