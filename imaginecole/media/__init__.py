"""Serve media blobs under content-hashed URLs."""
