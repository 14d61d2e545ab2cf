"""Exports for schools with no server: printed booklets (and, with a bundle, from a laptop)."""
