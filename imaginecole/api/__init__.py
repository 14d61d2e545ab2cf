"""The read-only JSON API (``/api/v1``): countries, curricula, modules, lessons, search."""
