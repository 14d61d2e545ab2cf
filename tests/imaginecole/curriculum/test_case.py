"""Curricula as CASE 1.0 CFPackages: from the API for anyone, from the curriculum page for editors."""

from __future__ import annotations

import json
import uuid

import pytest
from jsonschema import Draft201909Validator, FormatChecker

from tests.conftest import TESTS_DIR, load_content, make_app
from tests.imaginecole.national_helpers import add_accounts, client_as

CASE = "/api/v1/countries/zz/case"


def package(client, lang: str = "fr") -> dict:
    response = client.get(f"{CASE}?lang={lang}")
    assert response.status_code == 200
    return response.get_json()


# 1EdTech's own JSON schema of a CFPackage (tests/data/schemas/README.md says which and why 1.1).
CFPACKAGE_SCHEMA = json.loads(
    (TESTS_DIR / "data" / "schemas" / "case_v1p1_cfpackage.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_the_package_is_valid_against_the_official_schema(client, lang):
    validator = Draft201909Validator(CFPACKAGE_SCHEMA, format_checker=FormatChecker())
    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(package(client, lang))
    ]
    assert errors == []


def test_the_schema_check_catches_a_broken_package(client):
    validator = Draft201909Validator(CFPACKAGE_SCHEMA, format_checker=FormatChecker())
    broken = package(client)
    broken["CFItems"][0]["identifier"] = "not-a-uuid"
    del broken["CFItems"][1]["fullStatement"]
    assert len(list(validator.iter_errors(broken))) == 2


def is_uuid(text: str) -> bool:
    return str(uuid.UUID(text)) == text


def test_every_node_has_a_uuid_and_every_link_joins_two_known_nodes(client):
    data = package(client)
    document = data["CFDocument"]
    assert document["title"] == "Programme d'essai" and document["version"] == "2024"
    assert document["creator"] == "Zedland"
    items = {item["identifier"]: item for item in data["CFItems"]}
    known = set(items) | {document["identifier"]}
    assert all(is_uuid(identifier) for identifier in known)
    for item in items.values():
        assert item["uri"] == f"urn:uuid:{item['identifier']}"
        assert item["fullStatement"] and item["lastChangeDateTime"].endswith("+00:00")
    for link in data["CFAssociations"]:
        assert is_uuid(link["identifier"])
        assert link["associationType"] == "isChildOf"
        assert link["originNodeURI"]["identifier"] in items
        assert link["destinationNodeURI"]["identifier"] in known
    assert len(data["CFAssociations"]) == len(items)  # each node hangs from one parent


def test_the_tree_runs_competency_to_subject_to_framework(client):
    data = package(client)
    by_code = {item["humanCodingScheme"]: item for item in data["CFItems"]}
    parent_of = {
        link["originNodeURI"]["identifier"]: link["destinationNodeURI"]["identifier"]
        for link in data["CFAssociations"]
    }
    leaf = by_code["ZZ-MATH-1-1"]
    assert parent_of[leaf["identifier"]] == by_code["ZZ-MATH-1"]["identifier"]
    assert parent_of[by_code["ZZ-MATH-1"]["identifier"]] == by_code["mathematiques"]["identifier"]
    assert by_code["mathematiques"]["CFItemType"] == "Subject"
    assert parent_of[by_code["mathematiques"]["identifier"]] == data["CFDocument"]["identifier"]
    assert leaf["educationLevel"] == ["05"]  # CM1 is grade 5


def test_texts_come_in_the_language_asked_and_ids_do_not_change_with_it(client):
    french, english = package(client, "fr"), package(client, "en")
    statements = {i["humanCodingScheme"]: i["fullStatement"] for i in english["CFItems"]}
    assert statements["ZZ-MATH-1"] == "Solve problems with fractions"
    assert statements["mathematiques"] == "Mathematics"
    assert english["CFDocument"]["language"] == "en"
    assert [i["identifier"] for i in french["CFItems"]] == [
        i["identifier"] for i in english["CFItems"]
    ]
    arabic = package(client, "ar")
    assert {i["humanCodingScheme"]: i["fullStatement"] for i in arabic["CFItems"]}[
        "mathematiques"
    ] == "الرياضيات"
    assert client.get(f"{CASE}?lang=de").status_code == 400
    assert client.get("/api/v1/countries/yy/case").status_code == 404


def test_two_servers_give_the_same_identifiers(client, tmp_path):
    other = make_app(tmp_path / "other")
    load_content(other)
    mine = package(client)
    theirs = package(other.test_client())
    assert [i["identifier"] for i in mine["CFItems"]] == [
        i["identifier"] for i in theirs["CFItems"]
    ]
    assert mine["CFDocument"]["identifier"] == theirs["CFDocument"]["identifier"]


def test_editors_download_it_from_the_curriculum_page(tmp_path):
    app = make_app(tmp_path / "data")
    load_content(app)
    add_accounts(app, [("editor-zz", "editor", "zz")])
    editor = client_as(app, "editor-zz")
    page = editor.get("/en/national/zz/curriculum").text
    assert 'href="/en/national/zz/curriculum.case.json"' in page
    assert "Download as CASE 1.0 (JSON)" in page
    response = editor.get("/en/national/zz/curriculum.case.json")
    assert response.status_code == 200
    assert "zz-curriculum-case-en.json" in response.headers["Content-Disposition"]
    assert json.loads(response.data) == package(app.test_client(), "en")
    assert app.test_client().get("/en/national/zz/curriculum.case.json").status_code in (302, 403)
