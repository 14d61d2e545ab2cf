"""The national server's ``imaginecole module …`` commands: unpublish, publish, delete, history."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from imaginecole.accounts.models import User
from imaginecole.commands import database_command
from imaginecole.content.models import Module
from imaginecole.curation import operations as service
from imaginecole.extensions import db
from imaginecole.search.indexing import sync_index

BY_HELP = "E-mail of the editor or admin account the history names."


@click.group("module", help="Unpublish, publish or delete a module; show its history.")
def module_group() -> None:
    pass


def _module(uid: str) -> Module:
    module = db.session.scalar(select(Module).filter_by(uid=uid))
    if module is None:
        raise click.ClickException(f"There is no module {uid} on this server.")
    return module


def _editor(email: str, module: Module) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"There is no account {email}.")
    if not service.can_curate(user, module.country_code):
        raise click.ClickException(
            f"The account {email} may not curate the modules of {module.country_code} "
            "(editors of that country and admins may)."
        )
    return user


def _confirm(yes: bool, lines: list[str], question: str) -> None:
    for line in lines:
        click.echo(f"  {line}")
    if not yes and not click.confirm(question, default=False):
        raise click.ClickException("Nothing was changed.")


def _done() -> None:
    db.session.commit()
    sync_index()  # after the commit: the index follows the database


@module_group.command("unpublish", help="Take a module out of the catalogue and the next bundle.")
@click.argument("uid")
@click.option("--by", "email", required=True, help=BY_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_command
def module_unpublish(uid: str, email: str, yes: bool) -> None:
    module = _module(uid)
    editor = _editor(email, module)
    if not module.published:
        click.echo(f"{uid} is already unpublished (version {module.version}); nothing changed.")
        return
    _confirm(
        yes,
        [
            "Readers will no longer find it in the catalogue or search.",
            f"The next bundle removes it from every school of {module.country_code}.",
            "It stays here with its lessons and history: `imaginecole module publish` undoes it.",
        ],
        f"Unpublish {uid}?",
    )
    service.set_published(module, editor, False)
    _done()
    click.echo(f"Unpublished {uid} as version {module.version}.")


@module_group.command("publish", help="Put an unpublished module back in the catalogue.")
@click.argument("uid")
@click.option("--by", "email", required=True, help=BY_HELP)
@database_command
def module_publish(uid: str, email: str) -> None:
    module = _module(uid)
    editor = _editor(email, module)
    if not service.set_published(module, editor, True):
        click.echo(f"{uid} is already published (version {module.version}); nothing changed.")
        return
    _done()
    click.echo(f"Published {uid} as version {module.version}.")


@module_group.command("delete", help="Delete a module and its lessons; its history is kept.")
@click.argument("uid")
@click.option("--by", "email", required=True, help=BY_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_command
def module_delete(uid: str, email: str, yes: bool) -> None:
    module = _module(uid)
    editor = _editor(email, module)
    _confirm(
        yes,
        [
            f"Its {len(module.lessons)} lessons disappear from this server.",
            f"The next bundle removes it from every school of {module.country_code}.",
            "Its files stay in the media store while other modules use them.",
            "Its history is kept; uploading it again continues from its last version.",
        ],
        f"Delete {uid}?",
    )
    version = service.delete_module(module, editor)
    _done()
    click.echo(f"Deleted {uid} (recorded as version {version} in its history).")


@module_group.command("history", help="List the versions of a module: when, who, what made them.")
@click.argument("uid")
@database_command
def module_history(uid: str) -> None:
    rows = service.history_of(uid)
    if not rows:
        raise click.ClickException(f"No version of {uid} is recorded on this server.")
    for row in rows:
        who = row.changed_by.email if row.changed_by else "-"
        reference = f" ({row.reference})" if row.reference else ""
        summary = f": {row.summary}" if row.summary else ""
        when = row.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"v{row.version}  {when}  {row.origin}{reference}  {who}{summary}")
