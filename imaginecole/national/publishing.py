"""National team pages: publishing."""

from imaginecole.national import bp  # noqa: F401
