"""National team pages: coverage."""

from imaginecole.national import bp  # noqa: F401
