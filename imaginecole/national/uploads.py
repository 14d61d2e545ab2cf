"""National team pages: uploads."""

from imaginecole.national import bp  # noqa: F401
