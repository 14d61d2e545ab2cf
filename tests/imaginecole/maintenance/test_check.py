"""imaginecole check: files nothing uses, leftovers of failed work, an index out of step."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from imaginecole.bundles.operations import build_country_bundle, import_bundle
from imaginecole.content.models import LessonText
from imaginecole.datadir import ImportBusy, import_lock
from imaginecole.extensions import db
from imaginecole.maintenance.operations import check_data, repair
from imaginecole.media.operations import blob_store
from imaginecole.pages.generation import generation_in_session
from imaginecole.search import search_index
from sync.bundle import load_public_key, trust_entry_toml
from tests.conftest import give_signing_key, load_content, make_app

TWO_HOURS_AGO = time.time() - 2 * 3600
THREE_DAYS_AGO = time.time() - 3 * 24 * 3600


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """A school server that imported a bundle: media, variants and lesson texts in its store."""
    root = tmp_path_factory.mktemp("check")
    national = make_app(root / "national")
    assert not load_content(national).problems
    give_signing_key(national)
    with national.app_context():
        bundle = Path(build_country_bundle("zz").path)
        db.session.commit()
    app = make_app(root / "school")
    entry = trust_entry_toml(load_public_key(root / "national" / "keys" / "publisher.pub"), ["zz"])
    (root / "school" / "trust.toml").write_text("format = 1\n\n" + entry, encoding="utf-8")
    with app.app_context():
        import_bundle(bundle)
    return app


def aged(path: Path, moment: float = TWO_HOURS_AGO) -> Path:
    os.utime(path, (moment, moment))
    return path


def test_a_server_after_a_clean_import_has_nothing_to_report(school):
    with school.app_context():
        report = check_data()
        assert report.clean, report
        assert school.test_cli_runner().invoke(args=["check"]).exit_code == 0


def test_leftovers_and_index_gaps_are_found_counted_and_repaired(school):
    data = Path(school.config["DATA_DIR"])
    with school.app_context():
        store = blob_store()
        kept = {p for p in store.root.rglob("*") if p.is_file()}
        stray = aged(store.path(store.put_bytes(b"published by an import that failed")))
        young = store.path(store.put_bytes(b"a teacher's file, its row not committed yet"))
        staging = store.root / ".staging" / "zz-main-v9-0123456789abcdef"
        staging.mkdir(parents=True)
        (staging / ("ab" * 32)).write_bytes(b"x" * 1000)
        temporary = store.root / "ab" / ".tmp-k3j2"
        temporary.parent.mkdir(exist_ok=True)
        temporary.write_bytes(b"half")
        aged(temporary)
        orphan = data / "uploads" / "9999"
        orphan.mkdir(parents=True)
        (orphan / "course.zip").write_bytes(b"zip")
        incoming = data / "uploads" / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        abandoned = incoming / "tokentokentokentoken.part"
        abandoned.write_bytes(b"part")
        aged(abandoned, THREE_DAYS_AGO)
        [uid, *_] = sorted(search_index().fingerprints())
        search_index().replace_modules({}, removed=[uid])

        report = check_data()
        assert report.unreferenced.paths == [stray]
        assert young not in report.unreferenced.paths
        assert set(report.staging.paths) == {staging, temporary}
        assert report.staging.size == 1000 + 4
        assert report.uploads.paths == [orphan] and report.partials.paths == [abandoned]
        assert report.index_stale == [uid] and not report.missing

        listed = school.test_cli_runner().invoke(args=["check"])
        assert listed.exit_code == 1
        assert "blobs no row names: 1" in listed.output and "--repair" in listed.output

        with import_lock(), pytest.raises(ImportBusy):
            repair()
        assert stray.exists()

        repaired = school.test_cli_runner().invoke(args=["check", "--repair"])
        assert repaired.exit_code == 0, repaired.output
        assert "1 module(s) re-indexed" in repaired.output
        assert not stray.exists() and not staging.exists() and not orphan.exists()
        assert not abandoned.exists() and young.exists()
        assert kept <= {p for p in store.root.rglob("*") if p.is_file()}
        young.unlink()
        assert check_data().clean


def test_a_blob_the_database_names_but_the_store_lost_is_reported(school):
    with school.app_context():
        store = blob_store()
        victim = sorted(p for p in store.root.rglob("*") if p.is_file())[0]
        saved = victim.read_bytes()
        victim.unlink()
        try:
            report = check_data()
            assert report.missing == [victim.name]
            result = school.test_cli_runner().invoke(args=["check", "--repair"])
            assert result.exit_code == 1 and "import the latest full bundle" in result.output
        finally:
            victim.write_bytes(saved)


def test_lessons_an_older_version_rendered_are_found_and_rendered_again(school):
    """A school server's lessons came in a bundle: their images are looked up in its store."""
    with school.app_context():
        fresh = dict(db.session.execute(select(LessonText.id, LessonText.html)).all())
        db.session.execute(update(LessonText).values(html="<p>38</p>", rendering=0))
        db.session.commit()
        before = generation_in_session()

        result = school.test_cli_runner().invoke(args=["check"])
        assert result.exit_code == 1
        assert f"lesson texts rendered by an older version: {len(fresh)}" in result.output
        result = school.test_cli_runner().invoke(args=["check", "--repair"])
        assert f"{len(fresh)} lesson text(s) rendered again" in result.output
        db.session.expire_all()
        assert dict(db.session.execute(select(LessonText.id, LessonText.html)).all()) == fresh
        assert generation_in_session() != before
        assert check_data().clean
