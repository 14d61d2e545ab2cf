"""OAI-PMH 2.0: the catalogue's metadata for harvesters, with the removals they must learn of."""
