"""Send a file of the shared folder: by the front server when there is one, else by the app.

Behind nginx (``ACCEL_REDIRECT`` set), the app makes its checks (the file is known, the user
may have it), then answers with an empty body and an ``X-Accel-Redirect`` header naming the
file under an internal location of nginx, which sends it from disk with Range and conditional
requests. A Python worker is then busy for a few milliseconds instead of the length of a 40 MB
download on a slow line. Files outside the shared folder are always sent by the app.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app, send_file


def send_stored(
    path: Path,
    mimetype: str,
    download_name: str | None = None,
    etag: str | bool = True,
    max_age: int = 0,
) -> Response:
    """Return a response that sends ``path``, as an attachment named ``download_name`` if given."""
    redirect = _accel_redirect(path)
    if redirect is None:
        return send_file(
            path,
            mimetype=mimetype,
            as_attachment=download_name is not None,
            download_name=download_name,
            conditional=True,
            etag=etag,
            max_age=max_age,
        )
    response = current_app.response_class(mimetype=mimetype)
    response.headers["X-Accel-Redirect"] = redirect
    if download_name is not None:
        response.headers.set("Content-Disposition", "attachment", filename=download_name)
    response.cache_control.max_age = max_age
    return response


def _accel_redirect(path: Path) -> str | None:
    prefix = current_app.config["ACCEL_REDIRECT"]
    if not prefix:
        return None
    try:
        relative = Path(path).resolve().relative_to(Path(current_app.config["SHARED_DIR"]))
    except ValueError:
        return None  # e.g. a bundle built before the shared folder was set
    return "/" + prefix.strip("/") + "/" + quote(relative.as_posix())
