"""Turn a plain Markdown course folder (MkDocs style) into modules of the content format.

A national team often already has its courses as a folder of Markdown pages written for an
MkDocs site. ``read_course`` reads such a folder as it is, without touching it: every folder
that holds pages becomes one module, every page one lesson. The site's own syntax (Jinja
macros and comments, attribute lists, emoji shortcodes, content tabs, a little raw HTML) is
rewritten into the Markdown dialect of content/README.md; admonitions, code, tables and maths
are kept as written. Images are checked and hashed like in ``sync.content``; anything that
cannot come through is listed in ``CourseTree.skipped`` and the page still loads.
"""

from sync.course.modules import CourseOptions, CourseTree, read_course

__all__ = ["CourseOptions", "CourseTree", "read_course"]
