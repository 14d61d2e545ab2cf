"""schema.org/LRMI JSON-LD and licence links on module and lesson pages.

Read as a search engine would: extruct finds the JSON-LD in the page, pyld expands it with a
document loader that refuses the network, so the context must be in the page itself.
"""

from __future__ import annotations

import extruct
import pytest
from pyld import jsonld
from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.extensions import db
from tests.conftest import load_content

SCHEMA = "https://schema.org/"
MODULE = "/{lang}/modules/zz-maths-fractions/"
LESSON = "/{lang}/modules/zz-maths-fractions/lire-une-fraction"


def refuse_network(url, options=None):
    raise AssertionError(f"the JSON-LD needs {url}: its context must be inline")


def expanded(client, path: str) -> dict:
    """Return the one LearningResource of a page, expanded offline."""
    response = client.get(path)
    assert response.status_code == 200
    found = extruct.extract(response.text, syntaxes=["json-ld"], uniform=False)["json-ld"]
    assert len(found) == 1
    [node] = jsonld.expand(found[0], {"documentLoader": refuse_network})
    assert node["@type"] == [SCHEMA + "LearningResource"]
    return node


def values(node: dict, name: str) -> list:
    return node.get(SCHEMA + name, [])


def ids(node: dict, name: str) -> list[str]:
    return [item["@id"] for item in values(node, name)]


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_a_module_page_describes_the_module_in_every_language(client, lang):
    node = expanded(client, MODULE.format(lang=lang))
    assert node["@id"] == f"http://localhost/{lang}/modules/zz-maths-fractions/"
    names = {(v["@language"], v["@value"]) for v in values(node, "name")}
    assert {("fr", "Les fractions"), ("en", "Fractions"), ("ar", "الكسور")} <= names
    assert [v["@value"] for v in values(node, "inLanguage")] == ["fr", "en", "ar"]
    assert ids(node, "license")[0].startswith("https://creativecommons.org/licenses/")
    assert values(node, "isAccessibleForFree")[0]["@value"] is True
    assert values(node, "learningResourceType")[0]["@value"] == "lesson"
    assert values(node, "dateModified")
    assert [a[SCHEMA + "name"][0]["@value"] for a in values(node, "author")] == ["Awa Diallo"]
    level = values(node, "educationalLevel")[0]
    assert level[SCHEMA + "termCode"][0]["@value"] == "CM1"
    taught = values(node, "teaches")
    assert taught and all(t["@id"].startswith("urn:imaginecole:zz:") for t in taught)
    alignment = values(node, "educationalAlignment")[0]
    assert alignment[SCHEMA + "alignmentType"][0]["@value"] in ("teaches", "assesses")
    assert ids(node, "isPartOf") == [f"http://localhost/{lang}/zz/"]
    assert len(ids(node, "hasPart")) == 2


def test_level_names_follow_the_page_language(client):
    french = values(expanded(client, MODULE.format(lang="fr")), "educationalLevel")[0]
    english = values(expanded(client, MODULE.format(lang="en")), "educationalLevel")[0]
    assert french[SCHEMA + "name"][0]["@value"] == "Cours moyen 1re année"
    assert english[SCHEMA + "name"][0]["@value"] == "Middle course, year 1"


def test_a_lesson_page_is_part_of_its_module_and_states_its_language(client):
    node = expanded(client, LESSON.format(lang="ar"))
    assert node["@id"] == "http://localhost/ar/modules/zz-maths-fractions/lire-une-fraction"
    assert ids(node, "isPartOf") == ["http://localhost/ar/modules/zz-maths-fractions/"]
    assert [v["@value"] for v in values(node, "inLanguage")] == ["ar"]
    assert ids(node, "license")


def test_module_and_lesson_pages_link_their_licence(client):
    for path in (MODULE.format(lang="fr"), LESSON.format(lang="en")):
        html = client.get(path).text
        assert '<link rel="license" href="https://creativecommons.org/licenses/' in html


def test_a_title_cannot_close_the_script_it_is_in(app):
    load_content(app)
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        module.title = {**module.title, "fr": "</script><script>alert(1)</script>"}
        db.session.commit()
    html = app.test_client().get(MODULE.format(lang="fr")).text
    assert "<script>alert(1)" not in html
    node = expanded(app.test_client(), MODULE.format(lang="fr"))
    assert ("fr", "</script><script>alert(1)</script>") in {
        (v["@language"], v["@value"]) for v in values(node, "name")
    }
