"""How well a country's curriculum is covered by published modules, on a page and in a terminal."""
