"""The ``imaginecole search …`` commands: look after the search index."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from imaginecole.commands import database_command
from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.search.indexing import rebuild_index


@click.group("search", help="Maintain the search index.")
def search_group() -> None:
    pass


@search_group.command("reindex", help="Rebuild the search index from the database.")
@database_command
def search_reindex() -> None:
    total = db.session.scalar(select(func.count(Module.id)).where(Module.published.is_(True)))
    with click.progressbar(
        length=total, label="Indexing modules", show_pos=True, show_eta=True
    ) as bar:
        count = rebuild_index(progress=lambda done: bar.update(done - bar.pos))
    click.echo(f"Search index rebuilt: {count} modules.")
