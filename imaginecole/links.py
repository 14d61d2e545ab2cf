"""Absolute links to this server's pages, as readers and harvesters outside it reach them."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import current_app, request, url_for


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of ``endpoint``, on ``PUBLIC_URL`` when it is set.

    A school server is reached by its LAN address and a national server may sit behind a proxy:
    the setting keeps canonical links (OAI identifiers, sitemaps, JSON-LD) the same whatever
    address a request came in on.
    """
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def public_host() -> str:
    """Return the host name (no port) readers reach this server by."""
    base = current_app.config["PUBLIC_URL"]
    if base:
        return urlsplit(base).hostname or "localhost"
    return urlsplit(request.host_url).hostname or "localhost"


def competency_urn(country_code: str, framework_id: str, code: str) -> str:
    """Return the name of a curriculum node, the same on every server that has the curriculum."""
    return f"urn:imaginecole:{country_code}:{quote(framework_id, safe='')}:{quote(code, safe='')}"


def absolute(path: str) -> str:
    """Return an absolute URL for a path of this server (``/media/…``)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/") or request.host_url.rstrip("/")
    return base + path
