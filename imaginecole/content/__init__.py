"""Modules and lessons: loading content folders into the database, blob store and search index."""
