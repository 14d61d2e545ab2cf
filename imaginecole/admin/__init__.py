"""Pages for the people who run a server: bundles today."""
