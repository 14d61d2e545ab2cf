"""Browse and read: countries, levels, subjects, modules and lessons."""
