"""Validate documents against the official schemas kept in tests/data/schemas, never online."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"

# One schema that knows the OAI-PMH envelope and oai_dc: the envelope's <metadata> is checked
# strictly, so the schema of what it holds must be at hand.
OAI_WITH_DC = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="OAI-PMH.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/"
             schemaLocation="oai_dc.xsd"/>
</xs:schema>"""


class LocalSchemas(etree.Resolver):
    """Answer a schema's imports (xml.xsd on w3.org …) with the copies kept here."""

    def resolve(self, url, pubid, context):
        local = SCHEMAS / url.rsplit("/", 1)[-1]
        if local.is_file():
            return self.resolve_filename(str(local), context)
        raise LookupError(f"schema {url} is not kept in {SCHEMAS}")


@cache
def oai_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalSchemas())
    document = etree.fromstring(
        OAI_WITH_DC.encode(), parser, base_url=(SCHEMAS / "wrapper.xsd").as_uri()
    )
    return etree.XMLSchema(document)


def validate_oai(body: bytes) -> etree._Element:
    """Return the parsed OAI-PMH response, failing with the schema's words when it is invalid."""
    root = etree.fromstring(body, etree.XMLParser(no_network=True))
    schema = oai_schema()
    if not schema.validate(root):
        raise AssertionError(f"not valid OAI-PMH: {schema.error_log}\n{body.decode()[:2000]}")
    return root
