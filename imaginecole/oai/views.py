"""The OAI-PMH 2.0 endpoint, ``/oai``, over GET and POST."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request

from imaginecole.accounts.auth import reads_only
from imaginecole.config import LANGUAGES
from imaginecole.content.models import Module
from imaginecole.links import competency_urn, external_url, public_host
from imaginecole.oai import queries
from imaginecole.oai.protocol import (
    METADATA_PREFIX,
    OaiError,
    OaiRequest,
    Token,
    check_prefix,
    date_range,
    datestamp,
    decode_token,
    encode_token,
    parse_request,
)
from imaginecole.templating import licence_url
from imaginecole.xmldoc import xml_text

bp = Blueprint("oai", __name__)

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

for _prefix, _uri in (("oai_dc", OAI_DC), ("dc", DC), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)


@bp.route("/oai", methods=["GET", "POST"])
@reads_only  # harvesters POST long requests from anywhere, with no session
def endpoint():
    source = request.form if request.method == "POST" else request.args
    root = ET.Element(f"{{{OAI}}}OAI-PMH", {f"{{{XSI}}}schemaLocation": f"{OAI} {OAI_SCHEMA}"})
    _add(root, "responseDate", datestamp(datetime.now(UTC)))
    request_element = _add(root, "request", external_url("oai.endpoint"))
    try:
        parsed = parse_request({name: source.getlist(name) for name in source.keys()})
    except OaiError as error:
        _error(root, error)  # badVerb and badArgument: the request is echoed without arguments
        return _response(root)
    request_element.set("verb", parsed.verb)
    for name, value in parsed.arguments.items():
        request_element.set(name, value)
    try:
        root.append(VERB_HANDLERS[parsed.verb](parsed))
    except OaiError as error:
        if error.code == "badArgument":
            request_element.attrib.clear()  # as for badVerb: arguments are not echoed
        _error(root, error)
    return _response(root)


def _identify(parsed: OaiRequest) -> ET.Element:
    element = ET.Element(f"{{{OAI}}}Identify")
    _add(element, "repositoryName", f"Imaginecole ({public_host()})")
    _add(element, "baseURL", external_url("oai.endpoint"))
    _add(element, "protocolVersion", "2.0")
    host = public_host()
    # The schema wants a dotted domain; a LAN server named "ecole" is "ecole.local" to its readers.
    email = (
        current_app.config["CONTACT_EMAIL"]
        or f"webmaster@{host if '.' in host else host + '.local'}"
    )
    _add(element, "adminEmail", email)
    _add(element, "earliestDatestamp", datestamp(queries.earliest_stamp()))
    _add(element, "deletedRecord", "persistent")
    _add(element, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    return element


def _list_metadata_formats(parsed: OaiRequest) -> ET.Element:
    if "identifier" in parsed.arguments:
        _find(parsed.arguments["identifier"])
    element = ET.Element(f"{{{OAI}}}ListMetadataFormats")
    format_element = _add(element, "metadataFormat")
    _add(format_element, "metadataPrefix", METADATA_PREFIX)
    _add(format_element, "schema", OAI_DC_SCHEMA)
    _add(format_element, "metadataNamespace", OAI_DC)
    return element


def _list_sets(parsed: OaiRequest) -> ET.Element:
    if "resumptionToken" in parsed.arguments:
        # Every set fits in one response: no token was ever given out.
        raise OaiError("badResumptionToken", "ListSets answers in one response.")
    element = ET.Element(f"{{{OAI}}}ListSets")
    for oai_set in queries.all_sets():
        set_element = _add(element, "set")
        _add(set_element, "setSpec", oai_set.spec)
        names = oai_set.names
        _add(set_element, "setName", names.get("fr") or next(iter(names.values()), oai_set.spec))
        dc = _dc(_add(set_element, "setDescription"))
        for lang, name in names.items():
            _add_dc(dc, "title", name, lang)
    return element


def _get_record(parsed: OaiRequest) -> ET.Element:
    check_prefix(parsed.arguments["metadataPrefix"])
    record = _find(parsed.arguments["identifier"])
    element = ET.Element(f"{{{OAI}}}GetRecord")
    _add_record(element, record)
    return element


def _list(parsed: OaiRequest) -> ET.Element:
    arguments = parsed.arguments
    if "resumptionToken" in arguments:
        token = decode_token(arguments["resumptionToken"])
        since, until, set_spec = token.since, token.until, token.set_spec
        after, cursor = token.after, token.cursor
    else:
        check_prefix(arguments["metadataPrefix"])
        since, until, set_spec = arguments.get("from"), arguments.get("until"), arguments.get("set")
        after, cursor = "", 0
    start, end = date_range(since, until)
    selection = queries.Selection(set_spec, start, end, after)
    with_metadata = parsed.verb == "ListRecords"
    limit = int(current_app.config["OAI_PAGE_SIZE"])
    records = queries.list_records(selection, limit + 1, with_metadata)
    if not records:
        if after:  # the records after the token were removed since: the list ends here
            raise OaiError("badResumptionToken", "This list has changed; start it again.")
        raise OaiError("noRecordsMatch", "No record matches these arguments.")
    element = ET.Element(f"{{{OAI}}}{parsed.verb}")
    for record in records[:limit]:
        if with_metadata:
            _add_record(element, record)
        else:
            _add_header(element, record)
    more = len(records) > limit
    if more or cursor:
        token_element = _add(element, "resumptionToken")
        token_element.set("cursor", str(cursor))
        token_element.set("completeListSize", str(queries.count_records(selection)))
        if more:
            next_token = Token(since, until, set_spec, records[limit - 1].uid, cursor + limit)
            token_element.text = encode_token(next_token)
    return element


VERB_HANDLERS = {
    "Identify": _identify,
    "ListMetadataFormats": _list_metadata_formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": _list,
    "ListRecords": _list,
}


def _find(identifier: str) -> queries.Record:
    prefix = f"oai:{public_host()}:"
    uid = identifier[len(prefix) :] if identifier.startswith(prefix) else ""
    record = queries.find_record(uid) if uid else None
    if record is None:
        raise OaiError("idDoesNotExist", f"No record has the identifier {identifier!r}.")
    return record


def _identifier(uid: str) -> str:
    return f"oai:{public_host()}:{uid}"


def _add_header(parent: ET.Element, record: queries.Record) -> None:
    header = _add(parent, "header")
    if record.module is None:
        header.set("status", "deleted")
    _add(header, "identifier", _identifier(record.uid))
    _add(header, "datestamp", datestamp(record.stamp))
    for spec in record.set_specs:
        _add(header, "setSpec", spec)


def _add_record(parent: ET.Element, record: queries.Record) -> None:
    element = _add(parent, "record")
    _add_header(element, record)
    if record.module is not None:
        _add_dublin_core(_add(element, "metadata"), record.module)


def _add_dublin_core(parent: ET.Element, module: Module) -> None:
    dc = _dc(parent)
    for lang, title in module.title.items():
        _add_dc(dc, "title", title, lang)
    for author in module.authors:
        role = author.get("role", "author")
        _add_dc(dc, "creator" if role == "author" else "contributor", author.get("name", ""))
    for lang, name in module.subject.name.items():
        _add_dc(dc, "subject", name, lang)
    for keyword in module.keywords:
        _add_dc(dc, "subject", keyword, module.language)
    for lang, summary in module.summary.items():
        _add_dc(dc, "description", summary, lang)
    _add_dc(dc, "date", datestamp(module.updated_at)[:10])
    _add_dc(dc, "type", "Text")
    _add_dc(dc, "type", module.resource_type)
    _add_dc(dc, "format", "text/html")
    page_lang = module.language if module.language in LANGUAGES else "fr"
    _add_dc(dc, "identifier", external_url("catalog.module", lang=page_lang, uid=module.uid))
    for lang in module.languages:
        _add_dc(dc, "language", lang)
    for lang, name in module.country.name.items():
        _add_dc(dc, "coverage", name, lang)
    _add_dc(dc, "rights", licence_url(module.licence))
    for link in module.competency_links:
        _add_dc(
            dc,
            "relation",
            competency_urn(module.country_code, module.country.framework_id, link.competency.code),
        )


def _dc(parent: ET.Element) -> ET.Element:
    return ET.SubElement(
        parent, f"{{{OAI_DC}}}dc", {f"{{{XSI}}}schemaLocation": f"{OAI_DC} {OAI_DC_SCHEMA}"}
    )


def _add_dc(parent: ET.Element, name: str, text: str, lang: str | None = None) -> None:
    if not text:
        return
    element = ET.SubElement(parent, f"{{{DC}}}{name}")
    element.text = text
    if lang:
        element.set(XML_LANG, lang)


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{OAI}}}{name}")
    if text is not None:
        element.text = text
    return element


def _error(root: ET.Element, error: OaiError) -> None:
    _add(root, "error", error.message).set("code", error.code)


def _response(root: ET.Element) -> Response:
    body = xml_text(root, OAI, declaration=True).encode()
    return Response(body, mimetype="text/xml", headers={"Cache-Control": "no-cache"})
