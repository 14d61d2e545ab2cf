"""National teams upload ZIPs of modules or courses, read the report, and publish them."""
