"""Run the ``imaginecole`` command (also as ``python -m imaginecole``)."""

from imaginecole.app import create_app
from imaginecole.cli import ImaginecoleGroup

cli = ImaginecoleGroup(create_app=create_app)


def main() -> None:
    cli.main(prog_name="imaginecole")


if __name__ == "__main__":
    main()
