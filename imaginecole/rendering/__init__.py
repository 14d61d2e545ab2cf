"""Turn lesson Markdown into safe HTML, and images into resized variants."""
