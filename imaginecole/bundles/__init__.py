"""Signed content bundles: a national team builds and publishes them; a school server installs them."""
