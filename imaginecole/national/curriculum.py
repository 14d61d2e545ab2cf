"""National team pages: curriculum."""

from imaginecole.national import bp  # noqa: F401
