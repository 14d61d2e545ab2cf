"""Turn lesson Markdown into safe HTML, and images into resized variants."""

# Raise it with every change to what a lesson's stored HTML looks like: lessons rendered with an
# older number are rendered again (`imaginecole db upgrade`, `check --repair`, the next load),
# since lessons are rendered once at load (decision 3) and the files may not change for years.
# 2: decimal commas, linear text beside each formula (decision 30), exercises (decision 31).
RENDERING_VERSION = 2
