"""Extensions, created unbound and attached to the app in create_app."""

from pathlib import Path

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

# Named constraints let a migration drop or alter them on SQLite and PostgreSQL alike. Every
# database ever made had these names (create_all applied them): do not change them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
babel = Babel()
# Batch mode lets a migration alter a table on SQLite, which has few ALTER statements.
migrate = Migrate(
    db=db,
    directory=Path(__file__).resolve().parent / "migrations",
    render_as_batch=True,
    compare_type=True,
)
