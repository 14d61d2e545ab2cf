"""Media files, served by hash with long-lived cache headers: the URL changes when the bytes do."""

from __future__ import annotations

import re

from flask import Blueprint, abort, send_file
from sqlalchemy import String, cast, select

from imaginecole.extensions import db
from imaginecole.media.models import Asset, ImageVariant
from imaginecole.media.operations import blob_store
from imaginecole.submissions.models import Revision, TeacherFile
from sync.media import EXTENSION_FOR_TYPE

bp = Blueprint("media", __name__)
NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{2,4})?$")


@bp.route("/media/<name>")
def blob(name: str):
    match = NAME.match(name)
    if not match:
        abort(404)
    sha256 = match.group(1)
    media_type = _media_type(sha256)
    if media_type is None or EXTENSION_FOR_TYPE.get(media_type, "") != (match.group(2) or ""):
        abort(404)
    path = blob_store().path(sha256)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=media_type, conditional=True, etag=sha256, max_age=365 * 24 * 3600
    )
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    # A PDF or media file opened directly must not run anything of its own.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    )
    return response


def _media_type(sha256: str) -> str | None:
    """Return the type of a blob this server knows, or None (then it is not served)."""
    for column in (ImageVariant.media_type, Asset.media_type, TeacherFile.media_type):
        found = db.session.scalar(select(column).filter_by(sha256=sha256).limit(1))
        if found:
            return found
    # A file received with a teacher's submission: its revision's file list names its type.
    files = db.session.scalar(
        select(Revision.files).where(cast(Revision.files, String).contains(sha256)).limit(1)
    )
    for entry in files or []:
        if entry.get("sha256") == sha256:
            return entry.get("media_type")
    return None
