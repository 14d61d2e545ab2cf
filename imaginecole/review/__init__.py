"""The national side of teachers' submissions: enrolled schools, merging packages, reviewing."""
