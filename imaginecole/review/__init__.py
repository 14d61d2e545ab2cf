"""The national team's review queue for teachers' submissions."""
