"""What search engines read first: /robots.txt, and /sitemap.xml (an index when large)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from flask import Blueprint, Response, abort

from imaginecole.catalog.sitemap import Page, pages_in_every_language
from imaginecole.links import external_url
from imaginecole.xmldoc import xml_text

bp = Blueprint("crawlers", __name__)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
URLS_PER_SITEMAP = 50_000  # the protocol's limit for one file

# Pages for people with an account, and search results (endless, and already in the sitemap).
PRIVATE_PATHS = ("/*/national/", "/*/review/", "/*/admin/", "/*/my/", "/*/login", "/*/search")


@bp.route("/robots.txt")
def robots():
    lines = ["User-agent: *"]
    lines += [f"Disallow: {path}" for path in PRIVATE_PATHS]
    lines += ["Allow: /", "", f"Sitemap: {external_url('crawlers.sitemap')}", ""]
    return Response(
        "\n".join(lines), mimetype="text/plain", headers={"Cache-Control": "max-age=3600"}
    )


@bp.route("/sitemap.xml")
def sitemap():
    entries = pages_in_every_language()
    if len(entries) <= URLS_PER_SITEMAP:
        return _xml(_urlset(entries))
    index = ET.Element(f"{{{SITEMAP_NS}}}sitemapindex")
    for number, start in enumerate(range(0, len(entries), URLS_PER_SITEMAP), start=1):
        part = entries[start : start + URLS_PER_SITEMAP]
        element = ET.SubElement(index, f"{{{SITEMAP_NS}}}sitemap")
        _sub(element, "loc", external_url("crawlers.sitemap_part", number=number))
        newest = max((page.changed for _, page in part if page.changed), default=None)
        if newest:
            _sub(element, "lastmod", _w3c(newest))
    return _xml(index)


@bp.route("/sitemap-<int:number>.xml")
def sitemap_part(number: int):
    entries = pages_in_every_language()
    start = (number - 1) * URLS_PER_SITEMAP
    if number < 1 or start >= len(entries) or len(entries) <= URLS_PER_SITEMAP:
        abort(404)
    return _xml(_urlset(entries[start : start + URLS_PER_SITEMAP]))


def _urlset(entries: list[tuple[str, Page]]) -> ET.Element:
    urlset = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    for lang, page in entries:
        element = ET.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        _sub(element, "loc", external_url(page.endpoint, lang=lang, **dict(page.values)))
        if page.changed:
            _sub(element, "lastmod", _w3c(page.changed))
    return urlset


def _sub(parent: ET.Element, name: str, text: str) -> None:
    ET.SubElement(parent, f"{{{SITEMAP_NS}}}{name}").text = text


def _w3c(stamp: datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _xml(root: ET.Element) -> Response:
    body = xml_text(root, SITEMAP_NS, declaration=True).encode()
    return Response(body, mimetype="application/xml", headers={"Cache-Control": "max-age=3600"})
