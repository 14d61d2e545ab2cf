"""Run the ``imaginecole`` command (also as ``python -m imaginecole``)."""

import sys

import click

from imaginecole.app import create_app
from imaginecole.cli import ImaginecoleGroup
from imaginecole.config import SettingError

cli = ImaginecoleGroup(create_app=create_app)


def main() -> None:
    try:
        cli.main(prog_name="imaginecole")
    except SettingError as error:  # raised while the app is made, before any command runs
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
