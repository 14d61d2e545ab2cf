"""Anonymous pages served from a cache kept per content generation (docs/decisions.md, 22)."""
