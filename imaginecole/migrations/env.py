"""Alembic's environment: run the migrations on the app's database.

``imaginecole.schema`` passes the connection it holds the upgrade lock on as
``config.attributes["connection"]``; without one (Alembic's own tools), the app's engine is used.
"""

from alembic import context
from flask import current_app
from sqlalchemy.engine import Connection

config = context.config
migrate = current_app.extensions["migrate"]


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=migrate.db.metadata, **migrate.configure_args
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=migrate.db.engine.url, target_metadata=migrate.db.metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif "connection" in config.attributes:
    run_migrations(config.attributes["connection"])
else:
    with migrate.db.engine.connect() as connection:
        run_migrations(connection)
