"""Content logistics for Imaginecole: read content, build, verify and import bundles.

A library that never imports Flask, so bundles can be built and checked on any laptop.
"""

FORMAT_VERSION = 1
