"""National team pages: curation."""

from imaginecole.national import bp  # noqa: F401
