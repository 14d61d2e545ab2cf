"""The ``imaginecole users …`` commands: accounts of teachers, editors and admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

import click

from imaginecole.accounts.models import ROLES, User
from imaginecole.accounts.operations import AccountError, create_user, set_disabled, set_role
from imaginecole.commands import database_command
from imaginecole.extensions import db

P = ParamSpec("P")


@click.group("users", help="Manage the accounts of teachers, editors and admins.")
def users_group() -> None:
    pass


def _account_call(function: Callable[P, User], *args: P.args, **kwargs: P.kwargs) -> User:
    """Call an account operation; a refusal becomes the command's error message."""
    try:
        return function(*args, **kwargs)
    except AccountError as error:
        raise click.ClickException(str(error)) from None


@users_group.command("create", help="Create an account (the password is asked twice, not echoed).")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--country", default=None, help="Country code; required for editors and teachers.")
@click.option("--school", default="", help="School name, for teachers.")
@click.password_option(help="Password (at least 10 characters).")
@database_command
def users_create(
    email: str, name: str, role: str, country: str | None, school: str, password: str
) -> None:
    user = _account_call(create_user, email, name, password, role, country, school)
    click.echo(
        f"Created {user.role} {user.email}"
        + (f" for {user.country_code}" if user.country_code else "")
    )


@users_group.command("set-role", help="Change the role (and country) of an account.")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--country", default=None)
@database_command
def users_set_role(email: str, role: str, country: str | None) -> None:
    user = _account_call(set_role, email, role, country)
    click.echo(
        f"{user.email} is now {user.role}"
        + (f" for {user.country_code}" if user.country_code else "")
    )


@users_group.command("disable", help="Disable an account; its sessions end at once.")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@database_command
def users_disable(email: str, enable: bool) -> None:
    user = _account_call(set_disabled, email, not enable)
    click.echo(f"{user.email} is {'enabled' if enable else 'disabled'}")


@users_group.command("list", help="List the accounts.")
@database_command
def users_list() -> None:
    for user in db.session.scalars(db.select(User).order_by(User.email)):
        state = " (disabled)" if user.disabled else ""
        click.echo(f"{user.email}\t{user.role}\t{user.country_code or '*'}\t{user.name}{state}")
