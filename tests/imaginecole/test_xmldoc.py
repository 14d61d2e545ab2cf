"""XML writers keep their own default namespace, whatever another module registered."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from imaginecole.rendering.maths import formula_html
from imaginecole.xmldoc import xml_text

ATOM = "http://www.w3.org/2005/Atom"
OTHER = "http://example.org/other"


def test_the_default_namespace_is_unprefixed_even_after_another_was_registered():
    ET.register_namespace("", OTHER)  # as a careless writer elsewhere in the process would
    try:
        feed = ET.Element(f"{{{ATOM}}}feed", {"lang": "fr"})
        ET.SubElement(feed, f"{{{ATOM}}}title").text = "Modules"
        text = xml_text(feed, ATOM, declaration=True)
        assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
        assert f'<feed xmlns="{ATOM}" lang="fr"><title>Modules</title></feed>' in text
        assert "ns0" not in text and ET.fromstring(text.split("\n", 1)[1]).tag == f"{{{ATOM}}}feed"
        assert "<math " in formula_html("\\frac{1}{2}", display=False)
    finally:
        ET._namespace_map.pop(OTHER, None)
