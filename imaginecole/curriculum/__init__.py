"""A country's curriculum framework, read and changed in the browser with a versioned history."""
