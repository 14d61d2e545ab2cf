"""/robots.txt and /sitemap.xml: every public page once per language, with when it changed."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from sqlalchemy import select

from imaginecole.catalog import crawlers
from imaginecole.content.models import Module
from imaginecole.extensions import db
from tests.conftest import load_content, make_app

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
CHANGED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def entries(body: bytes) -> dict[str, str | None]:
    root = ET.fromstring(body)
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    return {
        url.findtext("s:loc", namespaces=NS): url.findtext("s:lastmod", namespaces=NS)
        for url in root.iterfind("s:url", NS)
    }


def test_robots_names_the_sitemap_and_keeps_robots_out_of_private_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.text.splitlines()
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    assert "Disallow: /*/national/" in lines and "Disallow: /*/login" in lines


def test_the_sitemap_lists_every_public_page_in_three_languages_and_each_answers(client):
    found = entries(client.get("/sitemap.xml").data)
    for lang in ("fr", "en", "ar"):
        assert f"http://localhost/{lang}/modules/zz-maths-fractions/" in found
        assert f"http://localhost/{lang}/modules/zz-maths-fractions/comparer" in found
        assert f"http://localhost/{lang}/zz/cm1/mathematiques/" in found
    assert len(found) == len(set(found))
    for url, lastmod in found.items():
        assert client.get(urlsplit(url).path).status_code == 200, url
        assert datetime.fromisoformat(lastmod).utcoffset().total_seconds() == 0, url


def test_an_unpublished_module_leaves_the_sitemap_and_dates_follow_changes(tmp_path):
    app = make_app(tmp_path / "data")
    load_content(app)
    client = app.test_client()
    before = entries(client.get("/sitemap.xml").data)
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        module.published = False
        db.session.commit()
        module = db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau"))
        module.version += 1
        module.updated_at = CHANGED  # a change later than the load, whatever the clock says
        db.session.commit()
    after = entries(client.get("/sitemap.xml").data)
    assert not any("zz-maths-fractions" in url for url in after)
    assert "http://localhost/fr/zz/cm1/mathematiques/" not in after  # nothing left to list
    water = "http://localhost/en/modules/zz-sciences-eau/"
    assert before[water] < after[water] == "2030-01-02T03:04:05+00:00"
    assert after["http://localhost/fr/"] == after["http://localhost/fr/zz/cm1/"] == after[water]
    assert after["http://localhost/fr/zz/7e-annee/histoire/"] < after[water]


def test_a_large_catalogue_gets_an_index_of_sitemaps(client, monkeypatch):
    monkeypatch.setattr(crawlers, "URLS_PER_SITEMAP", 10)
    whole = client.get("/sitemap.xml")
    root = ET.fromstring(whole.data)
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
    parts = [
        (s.findtext("s:loc", namespaces=NS), s.findtext("s:lastmod", namespaces=NS))
        for s in root.iterfind("s:sitemap", NS)
    ]
    assert parts[0][0] == "http://localhost/sitemap-1.xml"
    listed = {}
    for loc, lastmod in parts:
        part = entries(client.get(urlsplit(loc).path).data)
        assert 0 < len(part) <= 10
        assert lastmod == max(part.values())
        listed.update(part)
    monkeypatch.setattr(crawlers, "URLS_PER_SITEMAP", 50_000)
    assert listed == entries(client.get("/sitemap.xml").data)
    assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404
    assert client.get("/sitemap-0.xml").status_code == 404


def test_links_use_the_public_address_when_one_is_set(tmp_path):
    app = make_app(tmp_path / "data", PUBLIC_URL="https://oer.example.org/")
    load_content(app)
    client = app.test_client()
    assert "Sitemap: https://oer.example.org/sitemap.xml" in client.get("/robots.txt").text
    assert all(
        url.startswith("https://oer.example.org/")
        for url in entries(client.get("/sitemap.xml").data)
    )
