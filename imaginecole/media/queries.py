"""Which blobs of the store the database names: media, image variants, lesson texts, teachers' files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sqlalchemy import select

from imaginecole.content.models import LessonText
from imaginecole.extensions import db
from imaginecole.media.models import Asset, ImageVariant
from imaginecole.submissions.models import Revision, TeacherFile

IN_BATCH = 500  # keys per IN (...) query: well under SQLite's limit on bound parameters


def referenced_blobs(among: set[str] | None = None) -> set[str]:
    """Return the hashes the database names, only those ``among`` when it is given.

    Lesson texts count by the hash of their Markdown: a school keeps the Markdown blobs of the
    bundles it imported, since the next update names unchanged lessons by that hash.
    """
    found: set[str] = set()
    for column in (Asset.sha256, ImageVariant.sha256, TeacherFile.sha256):
        if among is None:
            found.update(db.session.scalars(select(column).distinct()))
            continue
        ordered = sorted(among)
        for start in range(0, len(ordered), IN_BATCH):
            batch = ordered[start : start + IN_BATCH]
            found.update(db.session.scalars(select(column).where(column.in_(batch))))
    found.update(_revision_files())
    found.update(_markdown_hashes())
    return found if among is None else found & among


def _revision_files() -> Iterator[str]:
    for files in db.session.scalars(select(Revision.files)):
        for entry in files or []:
            if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
                yield entry["sha256"]


def _markdown_hashes() -> Iterator[str]:
    for markdown in db.session.scalars(select(LessonText.markdown)):
        yield hashlib.sha256(markdown.encode("utf-8")).hexdigest()
