"""The national team's starting page, which links to each of its tools."""
