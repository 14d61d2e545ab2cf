"""OAI-PMH 2.0 at /oai: every response valid against the official schemas, real harvesters.

The schemas are the OAI's and DCMI's, kept in tests/data/schemas (README there says where from).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from oaipmh.client import Client
from oaipmh.error import BadArgumentError, IdDoesNotExistError
from oaipmh.metadata import MetadataRegistry, oai_dc_reader
from sickle import Sickle
from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.content.operations import remove_module
from imaginecole.extensions import db
from imaginecole.oai.models import ModuleTombstone
from tests.conftest import load_content, make_app
from tests.live_server import serve_in_thread
from tests.xml_schemas import validate_oai

NS = {
    "oai": "http://www.openarchives.org/OAI/2.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
}
ZZ_MODULES = ["zz-histoire-royaume", "zz-maths-fractions", "zz-sciences-eau"]
FRACTIONS = "oai:localhost:zz-maths-fractions"


def oai(client, query: str = "", method: str = "GET", **form):
    """Return the parsed and schema-valid response to ``/oai?query`` (or a POST of ``form``)."""
    if method == "POST":
        response = client.post("/oai", data=form)
    else:
        response = client.get(f"/oai?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    return validate_oai(response.data)


def error_code(root) -> str | None:
    found = root.find("oai:error", NS)
    return None if found is None else found.get("code")


def identifiers(root) -> list[str]:
    return [e.text for e in root.iterfind(".//oai:header/oai:identifier", NS)]


def harvest_all(client, first_query: str) -> list:
    """Follow resumption tokens to the end; return every header element, checking each page."""
    headers, root = [], oai(client, first_query)
    verb = first_query.split("&")[0].split("=")[1]
    while True:
        assert error_code(root) is None, error_code(root)
        headers += root.findall(".//oai:header", NS)
        token = root.find(f"oai:{verb}/oai:resumptionToken", NS)
        if token is None or not token.text:
            return headers
        root = oai(client, f"verb={verb}&resumptionToken={token.text}")


@pytest.fixture
def own(tmp_path):
    """An app of its own, for tests that remove or unpublish modules."""
    app = make_app(tmp_path / "data", OAI_PAGE_SIZE=2)
    load_content(app)
    return app


# ---------------------------------------------------------------------------- each verb


def test_identify_states_persistent_deletions_and_second_granularity(client):
    root = oai(client, "verb=Identify")
    identify = root.find("oai:Identify", NS)
    assert identify.findtext("oai:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext("oai:baseURL", namespaces=NS) == "http://localhost/oai"
    assert identify.findtext("oai:earliestDatestamp", namespaces=NS).endswith("Z")


def test_a_public_url_sets_the_base_url_and_the_identifiers(tmp_path):
    app = make_app(tmp_path / "data", PUBLIC_URL="https://oer.example.org")
    load_content(app)
    root = oai(app.test_client(), "verb=ListIdentifiers&metadataPrefix=oai_dc")
    assert root.findtext("oai:request", namespaces=NS) == "https://oer.example.org/oai"
    assert "oai:oer.example.org:zz-maths-fractions" in identifiers(root)


def test_list_metadata_formats_offers_oai_dc_for_the_repository_and_for_a_record(client):
    for query in ("verb=ListMetadataFormats", f"verb=ListMetadataFormats&identifier={FRACTIONS}"):
        root = oai(client, query)
        prefixes = [e.text for e in root.iterfind(".//oai:metadataPrefix", NS)]
        assert prefixes == ["oai_dc"]


def test_sets_per_country_level_and_subject_with_names_in_three_languages(client):
    root = oai(client, "verb=ListSets")
    specs = [e.text for e in root.iterfind(".//oai:setSpec", NS)]
    assert {"zz", "zz:level", "zz:level:cm1", "zz:subject", "zz:subject:mathematiques"} <= set(
        specs
    )
    maths = next(
        s
        for s in root.iterfind(".//oai:set", NS)
        if s.findtext("oai:setSpec", namespaces=NS) == "zz:subject:mathematiques"
    )
    titles = {
        t.get("{http://www.w3.org/XML/1998/namespace}lang"): t.text
        for t in maths.iterfind(".//dc:title", NS)
    }
    assert titles == {
        "fr": "Zedland — Mathématiques",
        "en": "Zedland — Mathematics",
        "ar": "زدلاند — الرياضيات",
    }


def test_get_record_carries_dublin_core_with_languages_licence_and_curriculum(client):
    root = oai(client, f"verb=GetRecord&identifier={FRACTIONS}&metadataPrefix=oai_dc")
    dc = root.find(".//oai_dc:dc", NS)
    lang = "{http://www.w3.org/XML/1998/namespace}lang"

    def values(name):
        return [(e.get(lang), e.text) for e in dc.iterfind(f"dc:{name}", NS)]

    assert ("en", "Fractions") in values("title") and ("ar", "الكسور") in values("title")
    assert ("fr", "Partager une unité en parts égales.") in values("description")
    assert values("creator") == [(None, "Awa Diallo")]
    assert (None, "http://localhost/fr/modules/zz-maths-fractions/") in values("identifier")
    assert [v for _, v in values("language")] == ["fr", "en", "ar"]
    assert ("en", "Zedland") in values("coverage")
    assert values("rights")[0][1].startswith("https://creativecommons.org/licenses/")
    assert all(v.startswith("urn:imaginecole:zz:") for _, v in values("relation"))
    assert values("relation")
    header = root.find(".//oai:header", NS)
    assert [e.text for e in header.iterfind("oai:setSpec", NS)] == [
        "zz:level:cm1",
        "zz:subject:mathematiques",
    ]
    stamp = header.findtext("oai:datestamp", namespaces=NS)
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


def test_post_is_answered_as_get(client):
    root = oai(
        client, method="POST", verb="GetRecord", identifier=FRACTIONS, metadataPrefix="oai_dc"
    )
    assert identifiers(root) == [FRACTIONS]


@pytest.mark.parametrize(
    ("query", "set_spec", "expected"),
    [
        ("", None, ZZ_MODULES),
        ("&set=zz", "zz", ZZ_MODULES),
        ("&set=zz:level", "zz:level", ZZ_MODULES),
        ("&set=zz:level:cm1", "zz:level:cm1", ["zz-maths-fractions", "zz-sciences-eau"]),
        ("&set=zz:subject:histoire", "zz:subject:histoire", ["zz-histoire-royaume"]),
    ],
)
def test_list_identifiers_by_set(client, query, set_spec, expected):
    root = oai(client, f"verb=ListIdentifiers&metadataPrefix=oai_dc{query}")
    assert identifiers(root) == [f"oai:localhost:{uid}" for uid in expected]


def test_dates_select_by_datestamp_at_both_granularities(client):
    today = datetime.now(UTC).date()
    for since, until in (
        (today.isoformat(), today.isoformat()),
        ((today - timedelta(days=1)).isoformat() + "T00:00:00Z", None),
    ):
        query = f"verb=ListIdentifiers&metadataPrefix=oai_dc&from={since}"
        if until:
            query += f"&until={until}"
        assert len(identifiers(oai(client, query))) == 3
    tomorrow = (today + timedelta(days=1)).isoformat()
    root = oai(client, f"verb=ListRecords&metadataPrefix=oai_dc&from={tomorrow}")
    assert error_code(root) == "noRecordsMatch"
    root = oai(client, "verb=ListRecords&metadataPrefix=oai_dc&until=2000-01-01T00:00:00Z")
    assert error_code(root) == "noRecordsMatch"


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "badVerb"),
        ("verb=Harvest", "badVerb"),
        ("verb=Identify&verb=Identify", "badVerb"),
        ("verb=Identify&set=zz", "badArgument"),
        ("verb=GetRecord&identifier=" + FRACTIONS, "badArgument"),
        ("verb=ListRecords", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=yesterday", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-30", "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-01-01T00:00:00Z",
            "badArgument",
        ),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&set=not a set", "badArgument"),
        ("verb=ListRecords&resumptionToken=abc&metadataPrefix=oai_dc", "badArgument"),
        ("verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
        (
            "verb=GetRecord&identifier=" + FRACTIONS + "&metadataPrefix=lom",
            "cannotDisseminateFormat",
        ),
        ("verb=GetRecord&identifier=oai:localhost:nothing&metadataPrefix=oai_dc", "idDoesNotExist"),
        ("verb=GetRecord&identifier=zz-maths-fractions&metadataPrefix=oai_dc", "idDoesNotExist"),
        ("verb=ListMetadataFormats&identifier=oai:localhost:nothing", "idDoesNotExist"),
        ("verb=ListRecords&metadataPrefix=oai_dc&set=yy", "noRecordsMatch"),
        ("verb=ListRecords&metadataPrefix=oai_dc&set=zz:level:nowhere", "noRecordsMatch"),
        ("verb=ListRecords&resumptionToken=abc", "badResumptionToken"),
        ("verb=ListIdentifiers&resumptionToken=WyJ4Il0", "badResumptionToken"),
        ("verb=ListSets&resumptionToken=abc", "badResumptionToken"),
    ],
)
def test_each_wrong_request_gets_its_error_code(client, query, code):
    root = oai(client, query)
    assert error_code(root) == code
    request = root.find("oai:request", NS)
    if code in ("badVerb", "badArgument"):
        assert dict(request.attrib) == {}  # the protocol forbids echoing such arguments


# ---------------------------------------------------------------------------- paging


def test_resumption_tokens_page_through_every_record_once(own):
    client = own.test_client()
    root = oai(client, "verb=ListRecords&metadataPrefix=oai_dc")
    token = root.find("oai:ListRecords/oai:resumptionToken", NS)
    assert token.get("completeListSize") == "3" and token.get("cursor") == "0"
    headers = harvest_all(client, "verb=ListRecords&metadataPrefix=oai_dc")
    assert [h.findtext("oai:identifier", namespaces=NS) for h in headers] == [
        f"oai:localhost:{uid}" for uid in ZZ_MODULES
    ]
    last = oai(client, f"verb=ListRecords&resumptionToken={token.text}")
    final = last.find("oai:ListRecords/oai:resumptionToken", NS)
    assert final.text is None and final.get("cursor") == "2"  # the list ends: empty token


def test_a_token_keeps_the_set_of_the_first_request(own):
    client = own.test_client()
    headers = harvest_all(client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=zz:level:cm1")
    assert len(headers) == 2


# ---------------------------------------------------------------------------- deletions


def test_a_removed_module_stays_visible_as_deleted(own):
    with own.app_context():
        assert remove_module("zz-maths-fractions")
        db.session.commit()
    client = own.test_client()
    root = oai(client, f"verb=GetRecord&identifier={FRACTIONS}&metadataPrefix=oai_dc")
    header = root.find(".//oai:header", NS)
    assert header.get("status") == "deleted"
    assert root.find(".//oai:metadata", NS) is None
    assert [e.text for e in header.iterfind("oai:setSpec", NS)] == [
        "zz:level:cm1",
        "zz:subject:mathematiques",
    ]
    deleted = [
        h
        for h in harvest_all(
            client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=zz:subject:mathematiques"
        )
    ]
    assert [h.get("status") for h in deleted] == ["deleted"]
    records = harvest_all(client, "verb=ListRecords&metadataPrefix=oai_dc")
    assert len(records) == 3


def test_unpublishing_makes_a_tombstone_and_publishing_again_removes_it(own):
    with own.app_context():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        module.published = False
        db.session.commit()
        assert db.session.get(ModuleTombstone, "zz-maths-fractions") is not None
    client = own.test_client()
    root = oai(client, f"verb=GetRecord&identifier={FRACTIONS}&metadataPrefix=oai_dc")
    assert root.find(".//oai:header", NS).get("status") == "deleted"
    with own.app_context():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        module.published = True
        db.session.commit()
        assert db.session.get(ModuleTombstone, "zz-maths-fractions") is None
    root = oai(client, f"verb=GetRecord&identifier={FRACTIONS}&metadataPrefix=oai_dc")
    assert root.find(".//oai:header", NS).get("status") is None
    assert root.find(".//oai_dc:dc", NS) is not None


def test_a_module_never_published_is_never_shown_not_even_as_deleted(own):
    with own.app_context():
        draft = db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau"))
        db.session.expunge(draft)
        db.session.execute(db.delete(Module).filter_by(uid="zz-sciences-eau"))  # no tombstone
        db.session.commit()
        copy = Module(
            uid="zz-draft",
            country_code="zz",
            subject_id=draft.subject_id,
            version=1,
            language="fr",
            resource_type="lesson",
            licence="CC-BY-4.0",
            title={"fr": "Brouillon"},
            summary={"fr": "Pas encore publié."},
            published=False,
        )
        db.session.add(copy)
        db.session.commit()
        assert db.session.get(ModuleTombstone, "zz-draft") is None
    client = own.test_client()
    listed = harvest_all(client, "verb=ListIdentifiers&metadataPrefix=oai_dc")
    assert "oai:localhost:zz-draft" not in [
        h.findtext("oai:identifier", namespaces=NS) for h in listed
    ]
    root = oai(client, "verb=GetRecord&identifier=oai:localhost:zz-draft&metadataPrefix=oai_dc")
    assert error_code(root) == "idDoesNotExist"
    assert "Brouillon" not in client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").text


# ---------------------------------------------------------------------------- real harvesters


def test_sickle_harvests_every_record_over_http_following_tokens(own):
    with own.app_context():
        remove_module("zz-histoire-royaume")
        db.session.commit()
    with serve_in_thread(own) as url:
        sickle = Sickle(f"{url}/oai")
        assert sickle.Identify().deletedRecord == "persistent"
        records = list(sickle.ListRecords(metadataPrefix="oai_dc"))
        live = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=True))
        sets = [s.setSpec for s in sickle.ListSets()]
        posted = Sickle(f"{url}/oai", http_method="POST").GetRecord(
            identifier="oai:127.0.0.1:zz-maths-fractions", metadataPrefix="oai_dc"
        )
    assert [r.header.identifier.split(":")[-1] for r in records] == ZZ_MODULES
    assert [r.header.deleted for r in records] == [True, False, False]
    assert [r.metadata["title"][0] for r in live] == ["Les fractions", "Le cycle de l'eau"]
    assert "zz:subject:histoire" in sets
    assert posted.metadata["creator"] == ["Awa Diallo"]


def test_the_oaipmh_client_harvests_identifiers_records_and_errors(own):
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    with serve_in_thread(own) as url:
        client = Client(f"{url}/oai", registry)
        identify = client.identify()
        headers = list(client.listIdentifiers(metadataPrefix="oai_dc"))
        records = list(client.listRecords(metadataPrefix="oai_dc", set="zz:level:cm1"))
        formats = client.listMetadataFormats()
        with pytest.raises(IdDoesNotExistError):
            client.getRecord(identifier="oai:127.0.0.1:nothing", metadataPrefix="oai_dc")
        with pytest.raises(BadArgumentError):
            client.listRecords(
                metadataPrefix="oai_dc", from_=datetime(2027, 1, 1), until=datetime(2026, 1, 1)
            )
    assert identify.deletedRecord() == "persistent"
    assert [h.identifier() for h in headers] == [f"oai:127.0.0.1:{uid}" for uid in ZZ_MODULES]
    assert len(records) == 2
    header, metadata, _ = records[0]
    assert metadata.getField("language") == ["fr", "en", "ar"]
    assert [f[0] for f in formats] == ["oai_dc"]


def test_a_nul_character_is_a_bad_argument(client):
    root = oai(client, "verb=GetRecord&identifier=oai:localhost:zz%00&metadataPrefix=oai_dc")
    assert error_code(root) == "badArgument"
