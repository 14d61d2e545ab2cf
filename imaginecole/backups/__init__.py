"""Back up a server into one archive, and restore it on another machine."""
