"""The signed archive that bundles and submission packages share, and the one ZIP checker."""
