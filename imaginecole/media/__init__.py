"""Media blobs and their image variants, stored and served under content-hashed URLs."""
