"""Imaginecole: curriculum-aligned open educational resources that work offline."""
