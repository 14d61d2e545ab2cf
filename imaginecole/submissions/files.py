"""Files teachers upload: recognised by their content, images rebuilt, names never trusted.

Also renders a teacher's Markdown with its images and links pointing at those files."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask import current_app

from imaginecole.accounts.models import User
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store, media_url
from imaginecole.rendering.images import ImageRejected, rebuild_image
from imaginecole.rendering.markdown import ImageInfo, MediaLink, render_markdown
from imaginecole.submissions.models import TeacherFile
from sync.media import EXTENSION_FOR_TYPE, IMAGE_TYPES, sniff_media_type

ALLOWED_TYPES = IMAGE_TYPES | {
    "application/pdf",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
    "video/webm",
}
# Names Windows keeps for devices, whatever the extension: a file saved as "con.png" fails there.
_DEVICE_NAME = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)$")
# Markup that a browser would run if it ever sniffed the file as a page.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|svg|script|iframe|body|head|\?xml)", re.IGNORECASE)


class TeacherFileRefused(ValueError):
    """The file cannot be accepted; ``reason`` is a code the page turns into a sentence."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason, self.detail = reason, detail


@dataclass
class Checked:
    data: bytes
    media_type: str


def check_upload(data: bytes) -> Checked:
    """Return the bytes to keep for an uploaded file, or raise TeacherFileRefused."""
    limit = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    if not data:
        raise TeacherFileRefused("empty")
    if len(data) > limit:
        raise TeacherFileRefused("too_big")
    media_type = sniff_media_type(data[:64])
    if media_type is None:
        head = data[:1024].lstrip()
        if _MARKUP.search(head):
            raise TeacherFileRefused("markup")
        raise TeacherFileRefused("unknown_type")
    if media_type not in ALLOWED_TYPES:
        raise TeacherFileRefused("unknown_type")
    if media_type in IMAGE_TYPES:
        try:
            rebuilt = rebuild_image(
                data,
                int(current_app.config["MAX_IMAGE_PIXELS"]),
                int(current_app.config["IMAGE_MEMORY_MB"]) * 2**20,
            )
        except ImageRejected as error:
            raise TeacherFileRefused("bad_image", str(error)) from error
        return Checked(rebuilt.data, rebuilt.media_type)
    # Other types are kept as sent; they are served with their real type, nosniff and a CSP that
    # runs nothing, so markup hidden inside (a PDF/HTML polyglot) is never interpreted.
    if _MARKUP.search(data[:1024]):
        raise TeacherFileRefused("markup")
    return Checked(data, media_type)


def safe_name(name: str, media_type: str) -> str:
    """Return a display name made only of plain characters, with the extension of its real type."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-._")[:60].lower() or "fichier"
    if _DEVICE_NAME.match(stem):
        stem += "-fichier"
    return stem + EXTENSION_FOR_TYPE.get(media_type, "")


def store_teacher_file(user: User, name: str, data: bytes) -> TeacherFile:
    """Check, store and record one uploaded file for ``user``."""
    checked = check_upload(data)
    sha256 = blob_store().put_bytes(checked.data)
    upload = TeacherFile(
        user_id=user.id,
        sha256=sha256,
        name=safe_name(name, checked.media_type),
        media_type=checked.media_type,
        size=len(checked.data),
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def render_with_files(markdown: str, files, lang: str = "fr") -> str:
    """Render a teacher's Markdown, resolving ![…](name) to the uploaded file of that name.

    ``files`` are ``TeacherFile`` rows or a revision's file dicts (name, sha256, media_type).
    The teacher and the reviewer see each exercise with its correction.
    """
    by_name = {f.name if hasattr(f, "name") else f["name"]: f for f in files}

    def resolve(target: str):
        found = by_name.get(target.rsplit("/", 1)[-1])
        if found is None:
            return None
        sha = found.sha256 if hasattr(found, "sha256") else found["sha256"]
        media_type = found.media_type if hasattr(found, "media_type") else found["media_type"]
        url = media_url(sha, media_type)
        return ImageInfo(url) if media_type.startswith("image/") else MediaLink(url, media_type)

    return render_markdown(markdown, resolve, lang=lang, corrections="open")
