"""Write XML whose default namespace is given when writing, never registered for the process.

``xml.etree`` keeps one table of namespace prefixes for the whole process, and registering a
default namespace there takes it from whichever module registered one before: the sitemap,
OPDS, OAI-PMH and MathML writers would then turn each other's elements into ``ns0:feed``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def xml_text(root: ET.Element, default_namespace: str, declaration: bool = False) -> str:
    """Return ``root`` as XML with ``default_namespace`` unprefixed; ``root`` is changed.

    Elements of other namespaces keep the prefixes registered for them.
    """
    qualified = "{" + default_namespace + "}"
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(qualified):
            element.tag = element.tag[len(qualified) :]
    attributes = {"xmlns": default_namespace, **root.attrib}  # written first, as by hand
    root.attrib.clear()
    root.attrib.update(attributes)
    text = ET.tostring(root, encoding="unicode", short_empty_elements=False)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text) if declaration else text
