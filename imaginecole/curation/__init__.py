"""National teams curate a module: its metadata, lesson order and publication, with history."""
