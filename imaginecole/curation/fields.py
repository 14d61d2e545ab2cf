"""The names of a module's fields as the edit form shows them, for the pages that list changes.

The history of a module (curation) and the report of an upload (uploads) both name the fields a
version or a file changes.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

FIELD_NAMES = {
    "title": _l("Title"),
    "summary": _l("Summary"),
    "levels": _l("Classes"),
    "subject": _l("Subject"),
    "competencies": _l("Competencies taught"),
    "assesses": _l("Competencies assessed"),
    "resource_type": _l("Type of resource"),
    "licence": _l("Licence"),
    "attribution": _l("Credit"),
    "keywords": _l("Keywords"),
    "authors": _l("Authors"),
    "derived_from": _l("Adapted from"),
    "language": _l("Language"),
    "lessons": _l("Lesson order"),
    "deleted": _l("Deleted"),
}
