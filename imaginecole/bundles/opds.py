"""An OPDS 1.2 catalogue of the bundles this server published, per country and channel.

Schools and Kiwix-style clients read it to see what is new, then download the files (with
Range requests, so a cut download resumes). Bundles hold published content only, signed:
they are public as the catalogue pages are.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, abort, request, send_file
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from imaginecole.bundles.models import BuiltBundle
from imaginecole.bundles.publishing import bundle_files
from imaginecole.clock import as_utc
from imaginecole.curriculum.models import Country
from imaginecole.extensions import db
from imaginecole.i18n import current_language
from imaginecole.links import external_url, public_host
from imaginecole.xmldoc import xml_text

bp = Blueprint("opds", __name__, url_prefix="/opds")


@bp.before_request
def refuse_nul_characters():
    # No text column can hold one (PostgreSQL refuses the query): nothing is there.
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        abort(404)


ATOM = "http://www.w3.org/2005/Atom"
DCTERMS = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
OPEN_ACCESS = "http://opds-spec.org/acquisition/open-access"
BUNDLE_TYPE = "application/octet-stream"

for _prefix, _uri in (("dcterms", DCTERMS), ("opds", OPDS)):
    ET.register_namespace(_prefix, _uri)


@bp.route("/")
def root():
    channels = db.session.execute(
        select(BuiltBundle.country_code, BuiltBundle.channel)
        .distinct()
        .order_by(BuiltBundle.country_code, BuiltBundle.channel)
    ).all()
    names = _country_names()
    feed = _feed(
        external_url("opds.root"),
        _("Imaginecole bundles"),
        NAVIGATION,
        _newest(db.session.scalars(select(BuiltBundle.built_at)).all()),
    )
    for country, channel in channels:
        newest = _newest(
            db.session.scalars(
                select(BuiltBundle.built_at).filter_by(country_code=country, channel=channel)
            ).all()
        )
        entry = _entry(
            feed,
            f"urn:imaginecole:bundles:{country}:{channel}",
            _(
                "%(country)s, channel %(channel)s",
                country=names.get(country, country),
                channel=channel,
            ),
            newest,
        )
        _link(
            entry,
            "subsection",
            external_url("opds.channel", country=country, channel=channel),
            ACQUISITION,
        )
    return _xml(feed, NAVIGATION)


@bp.route("/<country>/<channel>.xml")
def channel(country: str, channel: str):
    bundles = db.session.scalars(
        select(BuiltBundle)
        .filter_by(country_code=country, channel=channel)
        .options(selectinload(BuiltBundle.files))
        .order_by(BuiltBundle.version.desc())
    ).all()
    if not bundles:
        abort(404)
    found = db.session.get(Country, country)
    country_name = _country_names().get(country, country)
    feed = _feed(
        external_url("opds.channel", country=country, channel=channel),
        _("%(country)s, channel %(channel)s", country=country_name, channel=channel),
        ACQUISITION,
        _newest([b.built_at for b in bundles]),
    )
    _link(feed, "start", external_url("opds.root"), NAVIGATION)
    for bundle in bundles:
        entry = _entry(
            feed,
            f"urn:imaginecole:bundle:{country}:{channel}:{bundle.version}",
            _(
                "%(country)s, channel %(channel)s: version %(version)d",
                country=country_name,
                channel=channel,
                version=bundle.version,
            ),
            as_utc(bundle.built_at),
        )
        _sub(entry, f"{{{DCTERMS}}}issued", as_utc(bundle.built_at).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for lang in found.languages if found is not None else []:
            _sub(entry, f"{{{DCTERMS}}}language", lang)
        hashes = {row.name: row.sha256 for row in bundle.files}
        lines = [_describe(bundle)]
        for file in bundle_files(bundle):
            name = file.path.name
            link = _link(
                entry,
                OPEN_ACCESS,
                external_url(
                    "opds.download",
                    country=country,
                    channel=channel,
                    version=bundle.version,
                    name=name,
                ),
                BUNDLE_TYPE,
            )
            link.set("length", str(file.size))
            link.set("title", name)
            if name in hashes:
                _sub(entry, f"{{{DCTERMS}}}identifier", f"urn:sha256:{hashes[name]}")
            lines.append(
                f"{name}: {file.size} B" + (f", SHA-256 {hashes[name]}" if name in hashes else "")
            )
        content = _sub(entry, f"{{{ATOM}}}content", "\n".join(lines))
        content.set("type", "text")
        _sub(entry, f"{{{ATOM}}}summary", lines[0])
    return _xml(feed, ACQUISITION)


@bp.route("/<country>/<channel>/<int:version>/<name>")
def download(country: str, channel: str, version: int, name: str):
    bundle = db.session.scalar(
        select(BuiltBundle).filter_by(country_code=country, channel=channel, version=version)
    )
    if bundle is None:
        abort(404)
    chosen = next((f for f in bundle_files(bundle) if f.path.name == name), None)
    if chosen is None:
        abort(404)
    # conditional: Range requests let a download cut short resume where it stopped.
    return send_file(
        Path(chosen.path),
        mimetype=BUNDLE_TYPE,
        as_attachment=True,
        download_name=name,
        conditional=True,
        max_age=3600,
    )


def _describe(bundle: BuiltBundle) -> str:
    modules = ngettext("%(num)d module", "%(num)d modules", bundle.module_count)
    if bundle.base_version is None:
        return _("%(modules)s; a full bundle.", modules=modules)
    return _(
        "%(modules)s; the changes since version %(base)d.",
        modules=modules,
        base=bundle.base_version,
    )


def _country_names() -> dict[str, str]:
    lang = current_language()
    return {c.code: c.shown(lang).text for c in db.session.scalars(select(Country))}


def _newest(stamps: list[datetime]) -> datetime:
    return max((as_utc(s) for s in stamps), default=datetime.now(UTC))


def _feed(url: str, title: str, kind: str, updated: datetime) -> ET.Element:
    feed = ET.Element(
        f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": current_language()}
    )
    _sub(feed, f"{{{ATOM}}}id", url)
    _sub(feed, f"{{{ATOM}}}title", title)
    _sub(feed, f"{{{ATOM}}}updated", updated.strftime("%Y-%m-%dT%H:%M:%SZ"))
    author = _sub(feed, f"{{{ATOM}}}author")
    _sub(author, f"{{{ATOM}}}name", f"Imaginecole ({public_host()})")
    _link(feed, "self", url, kind)
    return feed


def _entry(feed: ET.Element, entry_id: str, title: str, updated: datetime) -> ET.Element:
    entry = _sub(feed, f"{{{ATOM}}}entry")
    _sub(entry, f"{{{ATOM}}}id", entry_id)
    _sub(entry, f"{{{ATOM}}}title", title)
    _sub(entry, f"{{{ATOM}}}updated", updated.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return entry


def _link(parent: ET.Element, rel: str, href: str, kind: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "href": href, "type": kind})


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, name)
    if text is not None:
        element.text = text
    return element


def _xml(feed: ET.Element, kind: str) -> Response:
    body = xml_text(feed, ATOM, declaration=True).encode()
    response = Response(body, content_type=f"{kind};charset=utf-8")
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-cache"
    return response
