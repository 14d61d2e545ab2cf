"""Media files, served by hash with long-lived cache headers: the URL changes when the bytes do.

Lesson media open in the browser. A file a teacher uploaded is a download (``attachment``)
under its cleaned name: it is the teacher's file, not a page of this site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from flask import Blueprint, abort
from sqlalchemy import String, cast, literal, null, select, union_all

from imaginecole.extensions import db
from imaginecole.media.models import Asset, ImageVariant
from imaginecole.media.operations import blob_store
from imaginecole.sending import send_stored
from imaginecole.submissions.files import safe_name
from imaginecole.submissions.models import Revision, TeacherFile
from sync.media import EXTENSION_FOR_TYPE

bp = Blueprint("media", __name__)
NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{2,4})?$")
# A PDF or media file opened directly must not run anything of its own, nor be framed.
MEDIA_POLICY = (
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Served:
    media_type: str
    download_name: str | None = None  # a teacher's upload: sent as an attachment of that name


@bp.route("/media/<name>")
def blob(name: str):
    match = NAME.match(name)
    if not match:
        abort(404)
    sha256 = match.group(1)
    path = blob_store().path(sha256)
    if not path.is_file():
        abort(404)  # a hash nobody stored costs a look at the disk, never a query
    served = _served(sha256)
    if served is None or EXTENSION_FOR_TYPE.get(served.media_type, "") != (match.group(2) or ""):
        abort(404)
    response = send_stored(path, served.media_type, etag=sha256, max_age=365 * 24 * 3600)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = MEDIA_POLICY
    if served.download_name is None:
        response.headers["Content-Disposition"] = "inline"
    else:
        response.headers["Content-Disposition"] = attachment(served.download_name)
    return response


def attachment(name: str) -> str:
    """Return a Content-Disposition that downloads a file under ``name`` (RFC 6266)."""
    # The plain filename= is for old browsers; filename* carries the name exactly.
    plain = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _served(sha256: str) -> Served | None:
    """Return how to serve a blob this server knows, or None (then it is not served)."""
    # One indexed query for what nearly every request asks: a lesson's image or media file,
    # or a teacher's upload. An image variant or a lesson asset is served inline, first.
    known = union_all(
        select(literal(1).label("rank"), ImageVariant.media_type, null().label("name")).where(
            ImageVariant.sha256 == sha256
        ),
        select(literal(2), Asset.media_type, null()).where(Asset.sha256 == sha256),
        select(literal(3), TeacherFile.media_type, TeacherFile.name).where(
            TeacherFile.sha256 == sha256
        ),
    ).subquery()
    found = db.session.execute(
        select(known.c.media_type, known.c.name).order_by(known.c.rank).limit(1)
    ).first()
    if found is not None:
        media_type, name = found
        return Served(media_type, None if name is None else safe_name(name, media_type))
    # A file received with a teacher's submission: its revision's file list names its type.
    files = db.session.scalar(
        select(Revision.files).where(cast(Revision.files, String).contains(sha256)).limit(1)
    )
    for entry in files or []:
        if entry.get("sha256") == sha256 and isinstance(entry.get("media_type"), str):
            media_type = entry["media_type"]
            return Served(media_type, safe_name(str(entry.get("name", "")), media_type))
    return None
