"""The ``imaginecole users …`` commands: accounts of teachers, editors and admins."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from flask import current_app, url_for

from imaginecole.accounts.models import ROLES, User
from imaginecole.accounts.operations import (
    AccountError,
    create_user,
    get_user,
    invite_user,
    link_expiry,
    reset_password,
    set_disabled,
    set_role,
)
from imaginecole.commands import database_command
from imaginecole.extensions import db

P = ParamSpec("P")
T = TypeVar("T")


@click.group("users", help="Manage the accounts of teachers, editors and admins.")
def users_group() -> None:
    pass


def _account_call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call an account operation; a refusal becomes the command's error message."""
    try:
        return function(*args, **kwargs)
    except AccountError as error:
        raise click.ClickException(str(error)) from None


@users_group.command(
    "create",
    help="Create an account and print a one-time link with which its holder sets their password.",
)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--country",
    default=None,
    help="Country code; required for editors and teachers. For an admin, the one country "
    "they manage (none: every country).",
)
@click.option("--school", default="", help="School name, for teachers and a school's admin.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="For scripts: read the password from the first line of standard input instead "
    "(at least 10 characters); no link is made.",
)
@database_command
def users_create(
    email: str, name: str, role: str, country: str | None, school: str, password_stdin: bool
) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        user = _account_call(create_user, email, name, password, role, country, school)
        click.echo(f"Created {_described(user)}")
        return
    user, secret = _account_call(invite_user, email, name, role, country, school, None)
    click.echo(f"Created {_described(user)}")
    _echo_link(user, secret)


@users_group.command(
    "reset", help="Make an account's password unusable and print a new one-time link."
)
@click.argument("email")
@database_command
def users_reset(email: str) -> None:
    user = _account_call(get_user, email)
    secret = reset_password(user, None)
    _echo_link(user, secret)


def _described(user: User) -> str:
    return f"{user.role} {user.email}" + (f" for {user.country_code}" if user.country_code else "")


def _echo_link(user: User, secret: str) -> None:
    """Print the set-password link of ``secret``: its only copy, the database keeps a hash."""
    language = current_app.config["DEFAULT_LANGUAGE"]
    with current_app.test_request_context():
        path = url_for("accounts.set_password", lang=language, secret=secret)
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    expires = link_expiry(user)
    click.echo(
        f"Give this link to {user.name}, and to nobody else. It works once, until "
        f"{expires:%Y-%m-%d %H:%M} UTC; it is shown only now:"
    )
    if base:
        click.echo(f"  {base}{path}")
    else:
        click.echo(f"  {path}")
        click.echo(
            "  after this server's address, as readers type it (such as http://192.168.1.10:8080);"
            " set IMAGINECOLE_PUBLIC_URL to have it written in full."
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
