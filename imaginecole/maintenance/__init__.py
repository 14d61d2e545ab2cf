"""Find what a server keeps that nothing uses, and a search index out of step; repair them."""
