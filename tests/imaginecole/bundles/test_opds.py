"""The OPDS 1.2 catalogue of published bundles, read with feedparser as a client would."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import feedparser
import pytest
from sqlalchemy import select

from imaginecole.bundles.operations import build_country_bundle
from imaginecole.content.models import Module
from imaginecole.extensions import db
from tests.conftest import give_signing_key, load_content, make_app

ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
OPEN_ACCESS = "http://opds-spec.org/acquisition/open-access"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A national server that published a full bundle of zz, then a delta."""
    app = make_app(tmp_path_factory.mktemp("opds"))
    load_content(app)
    give_signing_key(app)
    with app.app_context():
        build_country_bundle("zz")
        db.session.commit()
        module = db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau"))
        module.version += 1
        module.title = {**module.title, "fr": "Le cycle de l'eau (revu)"}
        db.session.commit()
        build_country_bundle("zz", since=1)
        db.session.commit()
    return app


def read(client, url: str, **headers):
    response = client.get(urlsplit(url).path, headers=headers)
    assert response.status_code == 200
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    return response, feed


def test_the_root_lists_each_country_and_channel(published):
    client = published.test_client()
    response, feed = read(client, "/opds/", **{"Accept-Language": "en"})
    assert "kind=navigation" in response.content_type
    [entry] = feed.entries
    assert entry.title == "Zedland, channel main"
    [link] = [link for link in entry.links if link.rel == "subsection"]
    assert link.type == ACQUISITION
    assert link.href == "http://localhost/opds/zz/main.xml"


def test_each_bundle_with_its_version_size_hash_date_and_languages(published):
    client = published.test_client()
    _, feed = read(client, "http://localhost/opds/zz/main.xml", **{"Accept-Language": "en"})
    assert [e.id for e in feed.entries] == [
        "urn:imaginecole:bundle:zz:main:2",
        "urn:imaginecole:bundle:zz:main:1",
    ]
    delta, full = feed.entries
    assert delta.title == "Zedland, channel main: version 2"
    assert delta.summary == "1 module; the changes since version 1."
    assert full.summary == "3 modules; a full bundle."
    assert full.updated_parsed is not None
    for entry in feed.entries:
        [link] = [link for link in entry.links if link.rel == OPEN_ACCESS]
        body = client.get(urlsplit(link.href).path).data
        assert int(link.length) == len(body)
        assert entry.dcterms_identifier == f"urn:sha256:{hashlib.sha256(body).hexdigest()}"
        assert entry.dcterms_language in ("fr", "ar")


def test_titles_in_french_and_arabic(published):
    client = published.test_client()
    _, french = read(client, "/opds/zz/main.xml", **{"Accept-Language": "fr"})
    _, arabic = read(client, "/opds/zz/main.xml", **{"Accept-Language": "ar"})
    assert french.entries[0].title == "Zedland, canal main : version 2"
    assert arabic.entries[0].title == "زدلاند، القناة main: الإصدار 2"
    assert arabic.feed.language == "ar"


def test_a_cut_download_resumes_and_unknown_files_are_404(published):
    client = published.test_client()
    _, feed = read(client, "/opds/zz/main.xml")
    [link] = [link for link in feed.entries[1].links if link.rel == OPEN_ACCESS]
    path = urlsplit(link.href).path
    whole = client.get(path).data
    rest = client.get(path, headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and rest.data == whole[100:]
    assert "Set-Cookie" not in rest.headers
    assert client.get(path.rsplit("/", 1)[0] + "/trust.toml").status_code == 404
    assert client.get("/opds/zz/main/9/" + path.rsplit("/", 1)[1]).status_code == 404
    assert client.get("/opds/yy/main.xml").status_code == 404


def test_a_server_that_published_nothing_has_an_empty_catalogue(tmp_path):
    app = make_app(tmp_path / "data")
    _, feed = read(app.test_client(), "/opds/")
    assert feed.entries == []


def test_a_nul_character_finds_nothing(published):
    assert published.test_client().get("/opds/z%00/main.xml").status_code == 404
