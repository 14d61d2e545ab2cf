"""Bundles between two servers: a national one that builds them, a school one that imports them.

The library tests (tests/sync/bundle/) cover every refusal of a bad bundle. These cover
what the app adds: versions and deltas built from the database, one transaction per import,
the search index following the database, history, removal, one import at a time, and imports
killed at each stage then run again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from imaginecole.bundles.models import InstalledBundle
from imaginecole.bundles.operations import (
    BundleSetupError,
    build_country_bundle,
    import_bundle,
    installed_bundles,
    remove_channel,
)
from imaginecole.content.models import LessonText, Module
from imaginecole.content.operations import remove_module, render_lessons
from imaginecole.curriculum.models import Country, Level, Subject
from imaginecole.datadir import ImportBusy
from imaginecole.extensions import db
from imaginecole.media.models import Asset
from imaginecole.media.operations import blob_store
from imaginecole.search import search_index
from imaginecole.search.documents import documents_for
from imaginecole.search.indexing import _modules, sync_index
from imaginecole.search.whoosh_engine import WhooshIndex, whoosh_fields
from sync.bundle import (
    BaseNotInstalled,
    BundleError,
    DiskFull,
    KeyNotAllowed,
    NotABundle,
    Rollback,
    UntrustedKey,
    generate_key_files,
    load_public_key,
    trust_entry_toml,
)
from sync.bundle import stage as bundle_stage
from sync.container.staging import RESERVE_BYTES
from tests.conftest import (
    REPO_ROOT,
    TEST_CONTENT,
    add_exercise_lesson,
    database_env,
    give_signing_key,
    load_content,
    make_app,
)

LANGS = ("fr", "en", "ar")
BIG_BLOB = 2_500_000  # bytes: more than one read chunk (1 MiB), so a copy can be cut inside one
# Words each version brings, and words of the content every version starts from.
QUERIES = (
    "fraction",
    "partage",
    "eau",
    "évaporation",
    "royaume",
    "الكسور",
    "brouillard",  # added to zz-sciences-eau in v2
    "pastèque",  # added to zz-maths-fractions in v3
    "pluviomètre",  # the new module zz-sciences-atlas in v3
)
REMOVED = "zz-histoire-royaume"  # removed in v2
ADDED = "zz-sciences-atlas"  # added in v3
HEX64 = re.compile(r"^[0-9a-f]{64}$")

ATLAS_TOML = """\
id = "zz-sciences-atlas"
version = 1
language = "fr"
levels = ["CM1"]
subject = "sciences"
competencies = ["ZZ-SCI-1"]
resource_type = "activity"
licence = "CC-BY-4.0"
keywords = ["pluie", "cartes"]

[title]
fr = "L'atlas des pluies"

[summary]
fr = "Lire les cartes des pluies de Zedland."

[[authors]]
name = "Équipe d'essai"
"""


# ---------------------------------------------------------------------------- reading servers


class MainText(HTMLParser):
    """The text inside a page's <main> element, and every /media/ URL anywhere in the page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []
        self.media: set[str] = set()
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset") and value:
                for candidate in value.split(","):
                    url = candidate.strip().split(" ")[0]
                    if url.startswith("/media/"):
                        self.media.add(url)
        if tag == "main" or self.depth:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def catalogue_urls(app) -> set[str]:
    """Every catalogue page of what ``app`` holds: home, country, level, subject, module, lesson."""
    with app.app_context():
        paths = ["/"]
        paths += [f"/{code}/" for code in db.session.scalars(select(Country.code))]
        levels = db.session.execute(select(Level.country_code, Level.slug)).all()
        subjects = db.session.execute(select(Subject.country_code, Subject.slug)).all()
        for country, level in levels:
            paths.append(f"/{country}/{level}/")
            paths += [f"/{country}/{level}/{s}/" for c, s in subjects if c == country]
        for module in db.session.scalars(select(Module)):
            paths.append(f"/modules/{module.uid}/")
            paths += [f"/modules/{module.uid}/{lesson.slug}" for lesson in module.lessons]
    return {f"/{lang}{path}" for lang in LANGS for path in paths}


def pages(app, urls) -> dict[str, tuple[int, str]]:
    """Return the status and the <main> text of each URL."""
    client = app.test_client()
    seen = {}
    for url in sorted(urls):
        response = client.get(url)
        seen[url] = (response.status_code, MainText(response.get_data(as_text=True)).text)
    return seen


def media_urls(app, urls) -> set[str]:
    client = app.test_client()
    found: set[str] = set()
    for url in urls:
        response = client.get(url)
        if response.status_code == 200:
            found |= MainText(response.get_data(as_text=True)).media
    return found


def search(app, query: str) -> tuple[int, list[tuple]]:
    data = app.test_client().get("/api/v1/search", query_string={"q": query}).get_json()
    hits = [
        (hit["module"], hit["lesson"], hit["language"], hit["title"], hit["module_title"])
        for hit in data["results"]
    ]
    return data["total"], hits


def searches(app) -> dict[str, tuple[int, list[tuple]]]:
    return {query: search(app, query) for query in QUERIES}


def found_modules(app, query: str) -> set[str]:
    return {hit[0] for hit in search(app, query)[1]}


def database_rows(app) -> dict[str, list[str]]:
    """Every row of every table, to tell whether anything at all changed."""
    with app.app_context():
        return {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
            for table in db.metadata.sorted_tables
        }


def store_files(app) -> dict[str, tuple[int, int]]:
    """Every file under the blob store (staging included), with its size and modification time."""
    root = Path(app.config["BLOB_DIR"])
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def assert_store_intact(app) -> set[str]:
    """Check that every file under a real name in the store is whole; return their hashes.

    Temporary files (``.tmp-*``) and the staging folder may be left by a killed import: they
    are never served nor taken for a blob.
    """
    root = Path(app.config["BLOB_DIR"])
    blobs = set()
    for path in sorted(root.rglob("*")) if root.exists() else []:
        relative = path.relative_to(root)
        if not path.is_file() or path.name.startswith(".tmp-") or relative.parts[0] == ".staging":
            continue
        assert HEX64.match(path.name), f"{relative} is not a blob name"
        assert relative.parts == (path.name[:2], path.name[2:4], path.name), f"{relative} misplaced"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == path.name, f"{relative} holds other bytes than its name says"
        blobs.add(path.name)
    return blobs


def history(app) -> list[tuple]:
    with app.app_context():
        return [
            (row.country_code, row.channel, row.version, row.base_version)
            for row in sorted(installed_bundles(), key=lambda row: row.version)
        ]


@dataclass
class Snapshot:
    rows: dict
    files: dict
    results: dict

    @classmethod
    def of(cls, app) -> Snapshot:
        return cls(database_rows(app), store_files(app), searches(app))


# ---------------------------------------------------------------------------- the national side


def module_dir(content: Path, uid: str) -> Path:
    return content / "zz" / "modules" / uid


def set_version(content: Path, uid: str, version: int) -> None:
    toml = module_dir(content, uid) / "module.toml"
    text, count = re.subn(r"(?m)^version = \d+$", f"version = {version}", toml.read_text("utf-8"))
    assert count == 1
    toml.write_text(text, encoding="utf-8")


def append_to(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def add_atlas_module(content: Path) -> None:
    """A new module with three large PDF maps, so copying them takes several reads each."""
    folder = module_dir(content, ADDED)
    (folder / "media").mkdir(parents=True)
    rng = random.Random(20240131)
    links = []
    for number in (1, 2, 3):
        data = b"%PDF-1.4\n" + rng.randbytes(BIG_BLOB)
        (folder / "media" / f"carte-{number}.pdf").write_bytes(data)
        links.append(f"- [Carte {number}](media/carte-{number}.pdf)")
    (folder / "module.toml").write_text(ATLAS_TOML, encoding="utf-8")
    (folder / "01-cartes.md").write_text(
        "# Les cartes des pluies\n\nLe pluviomètre mesure la pluie tombée en un mois.\n\n"
        + "\n".join(links)
        + "\n",
        encoding="utf-8",
    )


def remove_on_national(app, uid: str) -> None:
    with app.app_context():
        assert remove_module(uid)
        db.session.commit()
        sync_index()


@dataclass
class Built:
    path: Path
    version: int
    base_version: int | None
    size: int
    module_count: int
    key_id: str
    manifest: dict


def build(app, since: int | None = None) -> Built:
    with app.app_context():
        row = build_country_bundle("zz", since=since)
        db.session.commit()
        return Built(
            Path(row.path),
            row.version,
            row.base_version,
            row.size,
            row.module_count,
            row.publisher_key_id,
            json.loads(row.manifest),
        )


@dataclass
class Publisher:
    """A national server that built v1 (full), v2 and v3 (deltas), with what it served at each."""

    app: object
    data: Path
    bundles: dict[int, Built] = field(default_factory=dict)
    pages: dict[int, dict] = field(default_factory=dict)
    results: dict[int, dict] = field(default_factory=dict)

    def record(self, built: Built, urls: set[str]) -> None:
        self.bundles[built.version] = built
        self.pages[built.version] = pages(self.app, urls)
        self.results[built.version] = searches(self.app)

    @property
    def public_key_path(self) -> Path:
        return self.data / "keys" / "publisher.pub"


@pytest.fixture(scope="module")
def publisher(tmp_path_factory) -> Publisher:
    return national_with_three_versions(tmp_path_factory.mktemp("national"))


def national_with_three_versions(root: Path) -> Publisher:
    content = root / "content"
    shutil.copytree(TEST_CONTENT, content)
    app = make_app(root / "data")
    give_signing_key(app)
    national = Publisher(app, root / "data")
    assert not load_content(app, content).problems

    # v1: everything.
    urls = catalogue_urls(app)
    national.record(build(app), urls)

    # v2: a lesson edited (its module's version raised), a module removed.
    append_to(
        module_dir(content, "zz-sciences-eau") / "01-evaporation.md",
        "\nLe matin, le brouillard se lève au-dessus de la mare.\n",
    )
    set_version(content, "zz-sciences-eau", 2)
    shutil.rmtree(module_dir(content, REMOVED))
    assert not load_content(app, content).problems
    remove_on_national(app, REMOVED)
    national.record(build(app, since=1), urls := urls | catalogue_urls(app))

    # v3: a module added, another one edited.
    add_atlas_module(content)
    append_to(
        module_dir(content, "zz-maths-fractions") / "02-comparer.md",
        "\nUne pastèque coupée en quatre donne quatre quarts.\n",
    )
    set_version(content, "zz-maths-fractions", 2)
    assert not load_content(app, content).problems
    national.record(build(app, since=2), urls | catalogue_urls(app))
    return national


def trust(school, national: Publisher, countries=("zz",)) -> None:
    """Write the school's trust file from the national server's public key."""
    entry = trust_entry_toml(
        load_public_key(national.public_key_path), list(countries), "Zedland, équipe nationale"
    )
    path = Path(school.config["DATA_DIR"]) / "trust.toml"
    path.write_text("format = 1\n\n" + entry, encoding="utf-8")


def install(school, national: Publisher, *versions: int):
    report = None
    for version in versions:
        with school.app_context():
            report = import_bundle(national.bundles[version].path)
        assert not report.noop
    return report


@pytest.fixture
def school(tmp_path, publisher):
    app = make_app(tmp_path / "school")
    trust(app, publisher)
    return app


# ---------------------------------------------------------------------------- round trip


def test_a_bundle_imported_on_a_fresh_server_serves_the_same_pages_and_search(publisher, school):
    built = publisher.bundles[1]
    with school.app_context():
        report = import_bundle(built.path)

    assert (report.country, report.channel, report.version, report.noop) == ("zz", "main", 1, False)
    assert (report.modules_applied, report.modules_removed) == (3, 0)
    assert report.blobs_copied == len(built.manifest["files"]) and report.blobs_reused == 0
    expected = publisher.pages[1]
    assert sum(status == 200 for status, _ in expected.values()) >= 3 * 16  # pages were read
    assert pages(school, expected) == expected
    assert searches(school) == publisher.results[1]
    assert found_modules(school, "fraction") == {"zz-maths-fractions"}

    media = media_urls(school, [url for url, (status, _) in expected.items() if status == 200])
    assert media, "the lessons show images"
    client = school.test_client()
    for url in media:
        response = client.get(url)
        assert response.status_code == 200, url
        assert hashlib.sha256(response.data).hexdigest() == url.split("/")[-1].split(".")[0]


def test_pages_read_before_an_import_are_not_served_after_it(publisher, school):
    install(school, publisher, 1)
    with school.app_context():
        eau = db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau"))
        lesson = f"/fr/modules/zz-sciences-eau/{eau.lessons[0].slug}"
    removed = f"/fr/modules/{REMOVED}/"
    client = school.test_client()
    for url in (lesson, removed, lesson, removed):  # the second reads come from the page cache
        assert client.get(url).status_code == 200
    assert "brouillard" not in client.get(lesson).get_data(as_text=True)

    install(school, publisher, 2)

    assert "brouillard" in client.get(lesson).get_data(as_text=True)
    assert client.get(removed).status_code == 404


def variant_rows(app) -> dict[str, set[tuple]]:
    with app.app_context():
        return {
            asset.sha256: {
                (v.sha256, v.media_type, v.width, v.height, v.size) for v in asset.variants
            }
            for asset in db.session.scalars(select(Asset))
            if asset.is_image
        }


def test_a_school_uses_the_image_variants_the_bundle_carries(publisher, school, monkeypatch):
    import imaginecole.media.operations as media_service

    def no_resizing(*args, **kwargs):
        raise AssertionError("the school resized an image the bundle had variants for")

    monkeypatch.setattr(media_service, "make_variants", no_resizing)
    install(school, publisher, 1)

    here, national = variant_rows(school), variant_rows(publisher.app)
    assert here and any(here.values())
    assert here == {sha: national[sha] for sha in here}
    with school.app_context():
        for asset in db.session.scalars(select(Asset)):
            for variant in asset.variants:
                assert blob_store().has(variant.sha256)


def lesson_html(app) -> dict[tuple[str, str, str], str]:
    with app.app_context():
        return {
            (text.lesson.module.uid, text.lesson.slug, text.lang): text.html
            for text in db.session.scalars(select(LessonText))
        }


def test_lessons_rendered_while_the_media_are_copied_are_those_rendered_after(
    publisher, school, tmp_path, monkeypatch
):
    import imaginecole.bundles.operations as bundles_service

    ahead = {}

    def keep(sources, arriving):
        ahead.update(render_lessons(sources, arriving))
        return ahead

    monkeypatch.setattr(bundles_service, "render_lessons", keep)
    install(school, publisher, 1)
    # Another school renders nothing ahead: every lesson is rendered as it is written.
    late = make_app(tmp_path / "late")
    trust(late, publisher)
    monkeypatch.setattr(bundles_service, "render_lessons", lambda sources, arriving: {})
    install(late, publisher, 1)

    written = lesson_html(school)
    # The bundle's images come with their variants: every lesson could be rendered ahead,
    # pictures included, the same as when written.
    assert set(ahead) == set(written) and any("<picture" in html for html in ahead.values())
    assert ahead == written == lesson_html(late)


@contextmanager
def whoosh_searcher(app) -> Iterator[Searcher]:
    """Read the app's Whoosh index folder with whoosh itself, as a server would open it."""
    with app.app_context():
        index = search_index()
    assert isinstance(index, WhooshIndex)  # the stored fields and terms below are Whoosh's
    ix = whoosh_index.open_dir(index.directory)
    try:
        with ix.searcher() as searcher:
            yield searcher
    finally:
        ix.close()


def indexed_documents(app) -> list[dict]:
    """Return every document of the app's search index, as stored, in id order."""
    with whoosh_searcher(app) as searcher:
        return sorted(searcher.all_stored_fields(), key=lambda doc: doc["id"])


def indexed_terms(app) -> set[tuple[str, bytes, str, int]]:
    """Return each term of the app's search index: field, term, document id, frequency."""
    with whoosh_searcher(app) as searcher:
        reader = searcher.reader()
        ids = {docnum: stored["id"] for docnum, stored in reader.iter_docs()}
        return {
            (field, term, ids[docnum], frequency)
            for field, term in reader.all_terms()
            for docnum, frequency in reader.postings(field, term).items_as("frequency")
            if docnum in ids
        }


def index_ahead_always(monkeypatch) -> list[bool]:
    """Make imports index ahead as if the media took long to copy; return what publish did."""
    import imaginecole.bundles.operations as bundles_service
    from imaginecole.search.indexing import IndexAhead, index_ahead

    published: list[bool] = []
    publish = IndexAhead.publish

    def always(sources, curriculum, rendered, copying):
        return index_ahead(sources, curriculum, rendered, lambda: True)

    def spy(self, written):
        published.append(publish(self, written))
        return published[-1]

    monkeypatch.setattr(bundles_service, "index_ahead", always)
    monkeypatch.setattr(IndexAhead, "publish", spy)
    return published


def on_whoosh_only(app) -> None:
    """Skip a test of the Whoosh index's own steps when the search engine is PostgreSQL's."""
    if app.config["SEARCH_ENGINE"] != "whoosh":
        pytest.skip("PostgreSQL's search rows are written in the import's own transaction")


def test_the_index_written_while_the_media_are_copied_is_the_one_written_after(
    publisher, school, tmp_path, monkeypatch
):
    on_whoosh_only(school)
    import imaginecole.bundles.operations as bundles_service

    published = index_ahead_always(monkeypatch)
    install(school, publisher, 1, 2, 3)
    assert published == [True, True, True]  # each version indexed before its commit
    # Another school indexes nothing ahead: everything after the commit, from its database.
    late = make_app(tmp_path / "late")
    trust(late, publisher)
    monkeypatch.setattr(bundles_service, "index_ahead", lambda *args: None)
    install(late, publisher, 1, 2, 3)

    assert indexed_documents(school) == indexed_documents(late)
    assert indexed_terms(school) == indexed_terms(late)
    assert searches(school) == searches(late) == publisher.results[3]
    with school.app_context():  # and nothing is left for the index to catch up on
        assert sync_index().updated == 0


def test_a_module_indexed_ahead_but_not_written_leaves_the_index_to_the_database(
    publisher, school, monkeypatch
):
    on_whoosh_only(school)
    published = index_ahead_always(monkeypatch)
    install(school, publisher, 1)
    with school.app_context():  # a teacher hides a module on this server
        db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau")).published = False
        db.session.commit()
        sync_index()
    hidden = found_modules(school, "évaporation")
    assert "zz-sciences-eau" not in hidden

    install(school, publisher, 2, 3)

    # v2 ships the hidden module (indexed ahead, discarded); v3 ships two others.
    assert published == [True, False, True]
    assert found_modules(school, "évaporation") == hidden
    assert indexed_documents(school) == documents_from_database(school)


def documents_from_database(app) -> list[dict]:
    """Return the documents a rebuild of the app's index would store, in id order."""
    with app.app_context():
        indexed = indexed_documents(app)
        stored = set().union(*indexed) if indexed else set()
        documents = [whoosh_fields(doc) for module in _modules() for doc in documents_for(module)]
    return sorted(
        ({k: v for k, v in doc.items() if k in stored} for doc in documents),
        key=lambda doc: doc["id"],
    )


def test_a_bundle_built_from_a_content_folder_still_gets_its_variants_made(
    publisher, school, tmp_path
):
    from sync.bundle import build_bundle
    from sync.content import read_content

    laptop = tmp_path / "laptop.icb"
    tree = read_content(TEST_CONTENT)
    build_bundle(tree, None, "zz", 1, laptop, publisher.data / "keys" / "publisher.key")
    assert not any(
        "variants" in b for m in json_manifest(laptop)["modules"] for b in m["blobs"].values()
    )
    with school.app_context():
        import_bundle(laptop)
    rows = variant_rows(school)
    assert rows and all(rows.values())  # made here, with Pillow, as before


def json_manifest(path: Path) -> dict:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def test_importing_the_same_bundle_again_changes_nothing(publisher, school):
    install(school, publisher, 1)
    before = Snapshot.of(school)

    with school.app_context():
        report = import_bundle(publisher.bundles[1].path)

    assert report.noop and report.version == 1
    assert (report.blobs_copied, report.bytes_copied, report.modules_applied) == (0, 0, 0)
    assert Snapshot.of(school) == before  # no history row, no file touched, same search
    assert history(school) == [("zz", "main", 1, None)]


# ---------------------------------------------------------------------------- deltas


def test_deltas_are_small_and_carry_their_changes(publisher):
    v1, v2, v3 = (publisher.bundles[n] for n in (1, 2, 3))
    assert (v1.base_version, v2.base_version, v3.base_version) == (None, 1, 2)
    assert v2.size < v1.size
    assert v1.manifest["tombstones"] == [] and v1.module_count == 3
    assert v2.manifest["tombstones"] == [REMOVED]
    assert [m["id"] for m in v2.manifest["modules"]] == ["zz-sciences-eau"]
    assert sorted(v2.manifest["index"]) == ["zz-maths-fractions", "zz-sciences-eau"]
    assert [m["id"] for m in v3.manifest["modules"]] == ["zz-maths-fractions", ADDED]
    assert v3.manifest["tombstones"] == []
    # The image of zz-maths-fractions travelled in v1: v3 refers to it without shipping it.
    needed = set().union(*(entry["hashes"] for entry in v3.manifest["index"].values()))
    assert set(v3.manifest["files"]) < needed
    assert not set(v3.manifest["files"]) & set(v1.manifest["files"])


def test_a_chain_of_deltas_follows_the_national_server(publisher, school):
    install(school, publisher, 1)
    assert found_modules(school, "royaume") == {REMOVED}

    report = install(school, publisher, 2)
    assert (report.modules_applied, report.modules_removed) == (1, 1)
    assert pages(school, publisher.pages[2]) == publisher.pages[2]
    assert searches(school) == publisher.results[2]
    lesson = school.test_client().get("/fr/modules/zz-sciences-eau/evaporation")
    assert "brouillard" in MainText(lesson.get_data(as_text=True)).text
    assert school.test_client().get(f"/fr/modules/{REMOVED}/").status_code == 404
    assert found_modules(school, "brouillard") == {"zz-sciences-eau"}
    assert found_modules(school, "royaume") == set()

    report = install(school, publisher, 3)
    assert (report.modules_applied, report.modules_removed) == (2, 0)
    assert report.blobs_copied == len(publisher.bundles[3].manifest["files"])
    assert pages(school, publisher.pages[3]) == publisher.pages[3]
    assert searches(school) == publisher.results[3]
    assert school.test_client().get(f"/fr/modules/{ADDED}/").status_code == 200
    assert found_modules(school, "pluviomètre") == {ADDED}
    assert found_modules(school, "pastèque") == {"zz-maths-fractions"}
    assert history(school) == [("zz", "main", 1, None), ("zz", "main", 2, 1), ("zz", "main", 3, 2)]


# ---------------------------------------------------------------------------- refusals


def _no_trust_file(school, national, tmp_path):
    install(school, national, 1)
    (Path(school.config["DATA_DIR"]) / "trust.toml").unlink()
    return national.bundles[2].path


def _untrusted_key(school, national, tmp_path):
    install(school, national, 1)
    other = generate_key_files(tmp_path / "other-keys", name="other")
    entry = trust_entry_toml(load_public_key(other.public_path), ["zz"], "Someone else")
    (Path(school.config["DATA_DIR"]) / "trust.toml").write_text(entry, encoding="utf-8")
    return national.bundles[2].path


def _key_for_another_country(school, national, tmp_path):
    install(school, national, 1)
    trust(school, national, countries=["sn"])
    return national.bundles[2].path


def _rollback(school, national, tmp_path):
    install(school, national, 1, 2)
    return national.bundles[1].path


def _delta_on_a_fresh_server(school, national, tmp_path):
    return national.bundles[2].path


def _delta_skipping_a_version(school, national, tmp_path):
    install(school, national, 1)
    return national.bundles[3].path


def _cut_short(school, national, tmp_path):
    install(school, national, 1)
    data = national.bundles[2].path.read_bytes()
    cut = tmp_path / "zz-main-v2.icb"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


REFUSALS = {
    "no trust file": (_no_trust_file, BundleSetupError, "No trust file at"),
    "untrusted key": (_untrusted_key, UntrustedKey, "not in this server's trust file"),
    "key for another country": (_key_for_another_country, KeyNotAllowed, "not for zz"),
    "rollback": (_rollback, Rollback, "holds version 1 but version 2 is already installed"),
    "delta on a fresh server": (
        _delta_on_a_fresh_server,
        BaseNotInstalled,
        "applies to version 1 but nothing is installed yet",
    ),
    "delta skipping a version": (
        _delta_skipping_a_version,
        BaseNotInstalled,
        "applies to version 2 but version 1 is installed",
    ),
    "cut short": (_cut_short, NotABundle, "cut short or damaged"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_bundle_changes_nothing_on_the_server(publisher, school, tmp_path, case):
    prepare, error, message = REFUSALS[case]
    bundle = prepare(school, publisher, tmp_path)
    before = Snapshot.of(school)
    installed = history(school)

    with school.app_context(), pytest.raises(error) as caught:
        import_bundle(bundle)

    assert message in str(caught.value)
    assert Snapshot.of(school) == before  # database, every file of the store, search results
    assert history(school) == installed
    result = school.test_cli_runner().invoke(args=["bundle", "import", str(bundle)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Bundle refused, nothing was changed: " in result.output and message in result.output
    assert Snapshot.of(school) == before


def test_a_delta_on_a_fresh_server_leaves_no_module_history_or_blob(publisher, school):
    with school.app_context(), pytest.raises(BaseNotInstalled):
        import_bundle(publisher.bundles[2].path)
    with school.app_context():
        assert db.session.scalars(select(Module)).all() == []
        assert db.session.scalars(select(InstalledBundle)).all() == []
    assert store_files(school) == {}


def test_a_module_the_server_cannot_apply_rolls_the_whole_import_back(publisher, tmp_path):
    # This server decodes smaller images than the national one: zz-maths-fractions's is refused
    # after zz-histoire-royaume was already written in the same transaction.
    strict = make_app(tmp_path / "school", MAX_IMAGE_PIXELS=100)
    trust(strict, publisher)
    before = Snapshot.of(strict)

    with strict.app_context(), pytest.raises(BundleError) as caught:
        import_bundle(publisher.bundles[1].path)

    assert "zz-maths-fractions" in str(caught.value) and "disque.png" in str(caught.value)
    assert database_rows(strict) == before.rows
    assert searches(strict) == before.results
    assert_store_intact(strict)  # the bundle's blobs may stay, whole and unused
    result = strict.test_cli_runner().invoke(
        args=["bundle", "import", str(publisher.bundles[1].path)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "Bundle refused, nothing was changed: " in result.output
    assert database_rows(strict) == before.rows

    # Once the server accepts the image, the same bundle goes in, without copying again.
    relaxed = make_app(tmp_path / "school")
    with relaxed.app_context():
        report = import_bundle(publisher.bundles[1].path)
    assert report.blobs_copied == 0
    assert report.blobs_reused == len(publisher.bundles[1].manifest["files"])
    assert searches(relaxed) == publisher.results[1]


def _full_while_applying(monkeypatch) -> None:
    import imaginecole.content.operations as content_service

    def disk_full(blob, store, prepared=None, known=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(content_service, "ingest_blob", disk_full)


def _full_at_the_commit(monkeypatch) -> None:
    # SQLite's own words when it cannot grow the database or its journal.
    full = OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))

    def commit():
        raise full

    monkeypatch.setattr(db.session, "commit", commit)


def _full_and_the_index_clean_up_fails_too(monkeypatch) -> None:
    # The index update prepared ahead cannot be dropped either: its own error must not hide
    # the cause.
    from imaginecole.search.indexing import IndexAhead

    discard = IndexAhead.discard

    def cannot_discard(self):
        discard(self)  # the writer is let go, but deleting its files fails
        raise OSError(errno.EIO, "Input/output error")

    index_ahead_always(monkeypatch)
    monkeypatch.setattr(IndexAhead, "discard", cannot_discard)
    _full_at_the_commit(monkeypatch)


def _full_while_copying(monkeypatch) -> None:
    from sync.container import staging

    real = staging.flush_files

    def flush_then_full(paths):
        real(paths)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging, "flush_files", flush_then_full)
    monkeypatch.setattr(bundle_stage, "can_copy_in_background", lambda: False)


@pytest.mark.parametrize(
    "fill_disk",
    [
        _full_while_copying,
        _full_while_applying,
        _full_at_the_commit,
        _full_and_the_index_clean_up_fails_too,
    ],
)
def test_a_full_disk_anywhere_in_an_import_is_one_clear_refusal_that_changes_nothing(
    publisher, school, monkeypatch, fill_disk
):
    before = Snapshot.of(school)
    fill_disk(monkeypatch)
    with school.app_context(), pytest.raises(DiskFull) as caught:
        import_bundle(publisher.bundles[1].path)
    monkeypatch.undo()

    message = str(caught.value)
    assert "is full" in message and "needs" in message and "MB" in message
    assert caught.value.needed >= RESERVE_BYTES
    assert database_rows(school) == before.rows
    assert searches(school) == before.results
    # Nothing half-published: every blob copied went back to staging, for the next attempt.
    assert assert_store_intact(school) == set()
    with school.app_context():
        report = import_bundle(publisher.bundles[1].path)
    assert report.blobs_copied == 0 or fill_disk is _full_while_copying
    assert searches(school) == publisher.results[1]


def test_an_index_the_full_disk_stops_after_the_commit_is_reported_and_catches_up(
    publisher, school, monkeypatch
):
    import imaginecole.bundles.operations as bundles_service

    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundles_service, "sync_index", disk_full)
    with school.app_context():
        report = import_bundle(publisher.bundles[1].path)
    assert report.index_behind == "No space left on device"
    assert history(school) == [("zz", "main", 1, None)]
    monkeypatch.undo()
    with school.app_context():
        sync_index()
    assert searches(school) == publisher.results[1]


def test_a_module_loaded_here_at_a_higher_version_stops_the_import(publisher, school, tmp_path):
    local = tmp_path / "local"
    shutil.copytree(TEST_CONTENT, local)
    set_version(local, "zz-sciences-eau", 5)
    assert not load_content(school, local).problems
    before = Snapshot.of(school)

    with school.app_context(), pytest.raises(BundleError) as caught:
        import_bundle(publisher.bundles[1].path)

    assert "zz-sciences-eau" in str(caught.value) and "version 5" in str(caught.value)
    assert database_rows(school) == before.rows
    assert searches(school) == before.results
    assert history(school) == []


# ---------------------------------------------------------------------------- one at a time


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from imaginecole.app import create_app
    from imaginecole.datadir import import_lock

    app = create_app()
    with app.app_context(), import_lock():
        print("locked", flush=True)
        time.sleep(120)
    """
)


def subprocess_env(app) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env.update(database_env(app.config["DATA_DIR"]))
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def test_a_second_import_is_told_that_one_is_running(publisher, school):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER],
        env=subprocess_env(school),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = holder.stdout.readline()
        assert line.strip() == "locked", holder.stderr.read()
        before = Snapshot.of(school)

        with school.app_context(), pytest.raises(ImportBusy) as caught:
            import_bundle(publisher.bundles[1].path)
        assert "import is running" in str(caught.value)
        with school.app_context(), pytest.raises(ImportBusy):
            remove_channel("zz")

        result = school.test_cli_runner().invoke(
            args=["bundle", "import", str(publisher.bundles[1].path)]
        )
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert "import is running" in result.output
        assert Snapshot.of(school) == before
    finally:
        holder.kill()
        holder.communicate(timeout=30)

    # The kernel dropped the dead holder's lock: nothing stale is left behind.
    install(school, publisher, 1)


# ---------------------------------------------------------------------------- killed imports


CRASHER = textwrap.dedent(
    """
    import os, signal, sys

    import imaginecole.__main__ as entry
    import imaginecole.bundles.operations as bundles
    import sync.container.staging as staging

    point, bundle = sys.argv[1:]
    calls = []
    # Every staged blob flushed and named at once: the test bundle is smaller than one batch.
    staging.FLUSH_BYTES = 1

    def die():
        sys.stdout.flush()
        sys.stderr.flush()
        # The whole process group, as a power cut would: the import and the process copying
        # blobs for it, when the test started this script in a session of its own.
        if os.getpgid(0) == os.getpid():
            os.killpg(0, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "copying":
        # Inside the second large blob: part of it is in a temporary file. The copy runs in
        # this process here, so the patch below reaches it.
        import sync.bundle.stage as stage
        from sync.container.archive import SignedArchive

        stage.can_copy_in_background = lambda: False

        iter_blob = SignedArchive.iter_blob

        def cut_short(self, sha256, size, name=""):
            if size > 1 << 20:
                calls.append(sha256)
            for chunk in iter_blob(self, sha256, size, name):
                yield chunk
                if len(calls) == 2:
                    die()

        SignedArchive.iter_blob = cut_short
    elif point == "copying in the background":
        # The lessons rendered while another process copies the media.
        def render_and_die(*args, **kwargs):
            bundles_render(*args, **kwargs)
            die()

        bundles_render = bundles.render_lessons
        bundles.render_lessons = render_and_die
    elif point == "staged":
        # Every blob is in the staging folder; none has its real name in the store yet.
        import sync.bundle.stage as stage

        stage.publish = lambda *args, **kwargs: die()
    elif point == "applying":
        # Blobs in the store, the first module written in the open transaction.
        import imaginecole.content.operations as content

        write_module = content._write_module

        def killing_write(*args, **kwargs):
            calls.append(args[1].id)
            if len(calls) == 2:
                die()
            return write_module(*args, **kwargs)

        content._write_module = killing_write
    elif point == "indexed ahead":
        # The index written while the media were copied, not yet seen; nothing committed.
        index_ahead = bundles.index_ahead

        def index_and_die(sources, curriculum, rendered, copying):
            index_ahead(sources, curriculum, rendered, lambda: True)
            die()

        bundles.index_ahead = index_and_die
    elif point == "committed":
        # The transaction is committed; the search index, written ahead, is not yet seen.
        from imaginecole.search.indexing import IndexAhead

        index_ahead = bundles.index_ahead
        bundles.index_ahead = lambda s, c, r, copying: index_ahead(s, c, r, lambda: True)
        IndexAhead.publish = lambda *args, **kwargs: die()
        bundles.sync_index = lambda *args, **kwargs: die()
    elif point == "indexing":
        # Inside the search index's write: the changes written (a segment), not published
        # (no table of contents names it yet).
        from imaginecole.search.whoosh_engine import WhooshIndexUpdate

        def prepare_and_die(self):
            self.prepare()
            die()

        WhooshIndexUpdate.publish = prepare_and_die
    else:
        raise SystemExit(f"unknown point {point}")
    sys.argv = ["imaginecole", "bundle", "import", bundle]
    entry.main()
    """
)
BEFORE_COMMIT = ("copying", "copying in the background", "indexed ahead", "staged", "applying")
INSTALLED = re.compile(
    r"Installed zz main v3: 2 modules applied, 0 removed; (\d+) files copied .*, (\d+) already present"
)


def staging_files(app) -> list[Path]:
    root = Path(app.config["BLOB_DIR"]) / ".staging"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("point", [*BEFORE_COMMIT, "committed", "indexing"])
def test_an_import_killed_at_any_point_leaves_the_old_content_and_completes_when_rerun(
    publisher, school, point
):
    if point == "indexing":
        on_whoosh_only(school)
    install(school, publisher, 1, 2)
    before_pages = pages(school, publisher.pages[3])
    before_results = searches(school)
    assert before_results == publisher.results[2]
    v3 = publisher.bundles[3]
    shipped = set(v3.manifest["files"])
    assert len(shipped) == 5  # three maps and two lessons

    run = subprocess.run(
        [sys.executable, "-c", CRASHER, point, str(v3.path)],
        env=subprocess_env(school),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )

    assert run.returncode == -signal.SIGKILL, run.stderr
    blobs = assert_store_intact(school)
    staged = staging_files(school)
    if point == "copying":
        assert any(p.name.startswith(".tmp-") for p in staged), "killed inside a blob"
        assert not blobs & shipped
    elif point in ("copying in the background", "indexed ahead"):
        # The lessons were copied before they were rendered; the media were being copied.
        lessons = {
            sha
            for sha, entry in v3.manifest["files"].items()
            if entry["media_type"].startswith("text/markdown")
        }
        assert lessons <= {p.name for p in staged if not p.name.startswith(".tmp-")} <= shipped
        assert not blobs & shipped
    elif point == "staged":
        assert {p.name for p in staged} == shipped and not blobs & shipped
    else:
        assert staged == [] and shipped <= blobs
    if point in BEFORE_COMMIT:
        # Pupils still get the previous version, pages and search alike.
        assert history(school) == [("zz", "main", 1, None), ("zz", "main", 2, 1)]
        assert pages(school, publisher.pages[3]) == before_pages
    else:
        # The database has the new version; Whoosh's index lags behind until it catches up,
        # PostgreSQL's was written in the same transaction.
        assert history(school)[-1] == ("zz", "main", 3, 2)
        assert pages(school, publisher.pages[3]) == publisher.pages[3]
    lagging = point in BEFORE_COMMIT or school.config["SEARCH_ENGINE"] == "whoosh"
    assert searches(school) == (before_results if lagging else publisher.results[3])

    result = school.test_cli_runner().invoke(args=["bundle", "import", str(v3.path)])

    assert result.exit_code == 0, result.output
    if point in BEFORE_COMMIT:
        copied, reused = map(int, INSTALLED.search(result.output).groups())
        assert copied + reused == len(shipped)
        # What the killed run had copied is not copied again.
        if point == "copying":
            assert 1 <= reused < len(shipped)
        elif point in ("copying in the background", "indexed ahead"):
            assert reused >= len(lessons)
        else:
            assert (copied, reused) == (0, len(shipped))
    else:
        assert "zz main v3 is already installed: nothing to do." in result.output
    assert history(school) == [("zz", "main", 1, None), ("zz", "main", 2, 1), ("zz", "main", 3, 2)]
    assert pages(school, publisher.pages[3]) == publisher.pages[3]
    assert searches(school) == publisher.results[3]
    assert shipped <= assert_store_intact(school)
    assert staging_files(school) == []


def test_an_index_left_behind_catches_up_when_the_server_starts(publisher, school):
    on_whoosh_only(school)
    install(school, publisher, 1, 2)
    run = subprocess.run(
        [sys.executable, "-c", CRASHER, "committed", str(publisher.bundles[3].path)],
        env=subprocess_env(school),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert searches(school) == publisher.results[2]

    with school.app_context():
        report = sync_index()  # what `imaginecole serve` runs before serving

    assert report.updated == 2 and report.removed == 0
    assert searches(school) == publisher.results[3]


# ---------------------------------------------------------------------------- removal


def test_removing_a_channel_removes_its_modules_search_and_history(publisher, school):
    install(school, publisher, 1, 2)
    blobs = assert_store_intact(school)

    with school.app_context():
        assert remove_channel("zz") == 2

    client = school.test_client()
    for url in publisher.pages[2]:
        if "/modules/" in url:
            assert client.get(url).status_code == 404, url
    for query in QUERIES:
        assert search(school, query) == (0, []), query
    assert history(school) == []
    assert assert_store_intact(school) == blobs  # blobs stay: a later bundle may use them

    # With the history gone, a full bundle installs again, and finds its blobs in the store.
    report = install(school, publisher, 1)
    assert report.blobs_copied == 0
    assert searches(school) == publisher.results[1]


def test_exercises_and_their_captions_travel_in_bundles_and_deltas(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, content)
    lesson = add_exercise_lesson(content) / "09-exercices.md"
    national = make_app(tmp_path / "national")
    give_signing_key(national)
    assert not load_content(national, content).problems
    first = build(national)
    lesson.write_text(lesson.read_text().replace("réponse: 4,5", "réponse: 4,50"))
    set_version(content, "zz-sciences-eau", 2)
    assert not load_content(national, content).problems
    delta = build(national, since=first.version)
    assert delta.module_count == 1

    school = make_app(tmp_path / "school")
    trust(school, Publisher(national, tmp_path / "national"))
    for built in (first, delta):
        with school.app_context():
            assert not import_bundle(built.path).noop
    client = school.test_client()
    page = client.get("/fr/modules/zz-sciences-eau/exercices").get_data(as_text=True)
    assert page.count('<form class="exercise"') == 5 and '<track kind="captions"' in page
    answered = client.post(
        "/fr/modules/zz-sciences-eau/exercices?exercise=3",
        data={"answer": "4,5 L"},
        headers={"Origin": "http://localhost"},
    )
    assert 'class="feedback feedback-right"' in answered.get_data(as_text=True)
    assert "Set-Cookie" not in answered.headers
