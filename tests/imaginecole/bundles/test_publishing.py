"""The publishing page: what changed since the last bundle, builds with progress, downloads.

Builds run in a background thread in production; here ``launch`` is replaced so that a test
decides when (and whether) the build runs, except in one test that waits for the real thread.
"""

from __future__ import annotations

import re
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.bundles import publishing as publishing
from imaginecole.bundles.models import BuildJob, BuiltBundle
from imaginecole.bundles.operations import module_sources
from imaginecole.content.operations import remove_module
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.datadir import signing_key_path
from imaginecole.extensions import db
from imaginecole.submissions.models import Submission
from sync.bundle import (
    build_bundle,
    load_private_key,
    load_public_key,
    parse_trust,
    trust_entry_toml,
    verify_bundle,
)
from tests.conftest import give_signing_key, load_content, make_app
from tests.imaginecole.national_helpers import (
    Page,
    add_accounts,
    client_as,
    copy_test_content,
    post,
)

PAGE = "/en/national/zz/publish"
ZZ_MODULES = {"zz-histoire-royaume", "zz-maths-fractions", "zz-sciences-eau"}


class Server:
    """A national server with the zz content loaded, and one account of each kind."""

    def __init__(self, root: Path):
        self.content = copy_test_content(root / "content")
        self.app = make_app(root / "data")
        give_signing_key(self.app)
        self.reload()
        add_accounts(self.app)

    def reload(self) -> None:
        report = load_content(self.app, self.content)
        assert not report.problems, report.problems

    def client(self, who: str | None = None):
        return client_as(self.app, who)

    def edit_lesson(self, uid: str, text: str, version: int | None) -> None:
        module_dir = self.content / "zz" / "modules" / uid
        lesson = sorted(module_dir.glob("0*.md"))[0]
        lesson.write_text(lesson.read_text("utf-8") + "\n" + text + "\n", "utf-8")
        if version is not None:
            toml = module_dir / "module.toml"
            toml.write_text(
                re.sub(r"(?m)^version = \d+$", f"version = {version}", toml.read_text("utf-8")),
                "utf-8",
            )
        self.reload()

    def jobs(self) -> list[BuildJob]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(BuildJob).order_by(BuildJob.id)))
            for row in rows:
                db.session.expunge(row)
            return rows

    def bundles(self) -> list[BuiltBundle]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(BuiltBundle).order_by(BuiltBundle.version)))
            for row in rows:
                db.session.expunge(row)
            return rows

    def trust(self):
        public = load_public_key(Path(self.app.config["DATA_DIR"]) / "keys" / "publisher.pub")
        return parse_trust(tomllib.loads("format = 1\n\n" + trust_entry_toml(public, ["zz"])))


@pytest.fixture
def server(tmp_path) -> Server:
    return Server(tmp_path)


@pytest.fixture
def held(monkeypatch) -> list[int]:
    """Builds are recorded but not run until the test calls ``run``."""
    started: list[int] = []
    monkeypatch.setattr(publishing, "launch", lambda app, job_id: started.append(job_id))
    return started


@pytest.fixture
def inline(monkeypatch) -> None:
    """Builds run at once, in the request, as the thread would run them."""
    monkeypatch.setattr(publishing, "launch", publishing.run_build)


def build(client, kind: str = "full"):
    response = post(client, PAGE, {"kind": kind})
    assert response.status_code == 302
    return response


# ---------------------------------------------------------------------------- building


def test_the_first_bundle_is_full_built_verified_and_downloadable(server, inline):
    client = server.client("editor-zz")
    page = client.get(PAGE).get_data(as_text=True)
    assert "No bundle has been built yet: the first one will hold all 3 published modules." in page
    assert 'value="delta"' not in page  # no base: no update bundle offered
    assert '<meta http-equiv="refresh"' not in page

    build(client)
    [job] = server.jobs()
    assert (job.status, job.kind, job.version, job.error_code) == ("done", "full", 1, "")
    assert job.active is None
    assert job.bytes_done == job.bytes_total > 0
    [bundle] = server.bundles()
    verdict = verify_bundle(bundle.path, server.trust())
    assert verdict.ok, verdict.problems
    assert {m.id for m in verdict.manifest.modules} == ZZ_MODULES

    page = client.get(PAGE).get_data(as_text=True)
    assert "Version 1 was built on" in page
    assert "Nothing has changed since the last bundle." in page
    assert "There is nothing to publish: a new bundle would be empty." in page
    assert "Build and sign" not in page  # an empty bundle is not offered
    links = re.findall(r'href="(/en/national/zz/bundles/1/download[^"]*)"', page)
    assert links == ["/en/national/zz/bundles/1/download"]
    response = client.get(links[0])
    assert response.status_code == 200
    data = Path(bundle.path).read_bytes()
    assert response.data == data
    assert int(response.headers["Content-Length"]) == len(data)
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "private" in response.headers["Cache-Control"]
    # Range requests let a cut download resume.
    part = client.get(links[0], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == data[10:20]
    assert client.get("/en/national/zz/bundles/9/download").status_code == 404


def test_changes_are_listed_then_carried_by_a_delta(server, inline):
    client = server.client("editor-zz")
    build(client)
    server.edit_lesson("zz-sciences-eau", "Le matin, le brouillard se lève.", version=2)
    with server.app.app_context():
        remove_module("zz-histoire-royaume")
        db.session.commit()

    page = client.get(PAGE).get_data(as_text=True)
    changes = Page(page.split('id="changes"', 1)[1].split("</div>", 1)[0]).text
    assert "1 module changed" in changes
    assert "zz-sciences-eau" in changes and "version 1 → 2" in changes
    assert "1 module removed" in changes and "zz-histoire-royaume" in changes
    assert "zz-maths-fractions" not in changes
    assert "Since version 1, built on" in page

    build(client, "delta")
    jobs = server.jobs()
    assert (jobs[-1].status, jobs[-1].version, jobs[-1].base_version) == ("done", 2, 1)
    delta = server.bundles()[-1]
    assert delta.base_version == 1
    verdict = verify_bundle(delta.path, server.trust())
    assert verdict.ok, verdict.problems
    assert verdict.manifest.is_delta
    assert [m.id for m in verdict.manifest.modules] == ["zz-sciences-eau"]
    assert verdict.manifest.tombstones == ["zz-histoire-royaume"]
    page = client.get(PAGE).get_data(as_text=True)
    assert "changes since version 1" in page
    assert "Nothing has changed since the last bundle." in page


def test_review_decisions_and_new_versions_count_as_changes(server, inline):
    with server.app.app_context():
        db.session.add(
            Submission(
                uid="school-one-submission-1",
                country_code="zz",
                status="rejected",
                school_key_id="k" * 16,
                comment="Trop court.",
                reviewed_revision_uid="b" * 64,
            )
        )
        db.session.commit()
        assert publishing.changes_since_last_bundle("zz").statuses_pending == 1
    client = server.client("editor-zz")
    build(client)
    with server.app.app_context():
        changes = publishing.changes_since_last_bundle("zz")
        assert (changes.statuses_pending, changes.any) == (0, False)
        submission = db.session.scalar(select(Submission))
        submission.comment = "Trop court : ajoutez un exercice."
        db.session.commit()
        assert publishing.changes_since_last_bundle("zz").statuses_pending == 1
    page = client.get(PAGE).get_data(as_text=True)
    assert "1 review decision will be sent back to the schools." in page

    # A new number alone reaches schools too.
    toml = server.content / "zz" / "modules" / "zz-histoire-royaume" / "module.toml"
    toml.write_text(toml.read_text("utf-8").replace("version = 1", "version = 2"), "utf-8")
    server.reload()
    with server.app.app_context():
        [change] = publishing.changes_since_last_bundle("zz").changed
    assert (change.uid, change.before, change.version, change.version_not_raised) == (
        "zz-histoire-royaume",
        1,
        2,
        False,
    )


def test_a_change_without_a_new_version_blocks_the_delta_and_says_so(server, inline):
    client = server.client("editor-zz")
    build(client)
    server.edit_lesson("zz-maths-fractions", "Une pastèque en quatre quarts.", version=None)
    with server.app.app_context():
        changes = publishing.changes_since_last_bundle("zz")
    assert [c.uid for c in changes.changed] == ["zz-maths-fractions"]
    assert changes.delta_blocked
    page = client.get(PAGE).get_data(as_text=True)
    assert "its version was not raised" in page
    assert re.search(r'value="delta"[^>]*disabled', page)

    # Forced anyway, the builder refuses and the page says so in plain words.
    build(client, "delta")
    job = server.jobs()[-1]
    assert (job.status, job.error_code) == ("failed", "build")
    assert "raise `version`" in job.error_detail
    page = client.get(PAGE).get_data(as_text=True)
    assert "The bundle could not be built." in page
    assert len(server.bundles()) == 1
    # A full bundle carries it.
    build(client, "full")
    assert server.jobs()[-1].status == "done"
    assert [b.version for b in server.bundles()] == [1, 2]


def test_a_second_build_while_one_runs_is_refused(server, held):
    client = server.client("editor-zz")
    build(client)
    [job] = server.jobs()
    assert job.status == "running" and held == [job.id]

    page = client.get(PAGE).get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "<progress" in page
    assert "Build and sign" not in page  # no second form while one runs

    response = build(client)
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A bundle of this country is already being built." in followed
    assert len(server.jobs()) == 1
    with server.app.app_context():
        with pytest.raises(publishing.BuildRefused) as refused:
            publishing.start_build("zz", db.session.get(User, 1), "full")
        assert refused.value.code == "busy"

    publishing.run_build(server.app, job.id)
    [job] = server.jobs()
    assert job.status == "done" and job.version == 1
    page = client.get(PAGE).get_data(as_text=True)
    assert "http-equiv" not in page
    server.edit_lesson("zz-sciences-eau", "Le matin, le brouillard se lève.", version=2)
    build(client)  # free again
    assert len(server.jobs()) == 2


def test_a_build_whose_worker_died_is_shown_and_replaced(server, held):
    client = server.client("editor-zz")
    build(client)
    with server.app.app_context():
        job = db.session.scalar(select(BuildJob))
        job.heartbeat_at = datetime.now(UTC) - timedelta(minutes=10)
        db.session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert "The last build stopped before the end" in page
    assert "http-equiv" not in page
    build(client)
    first, second = server.jobs()
    assert (first.status, first.error_code, first.active) == ("failed", "interrupted", None)
    assert second.status == "running" and second.active


def test_a_delta_needs_a_bundle_before_it(server, held):
    client = server.client("editor-zz")
    response = build(client, "delta")
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "An update needs a bundle built before it on this server" in followed
    assert server.jobs() == []


def test_nothing_changed_means_no_bundle_by_the_page_or_by_a_forged_form(server, inline):
    client = server.client("editor-zz")
    build(client)
    for kind in ("full", "delta"):
        response = post(client, PAGE, {"kind": kind, "since": "1"})
        followed = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Nothing has changed since the last bundle: a new one would be empty." in followed
    assert [bundle.version for bundle in server.bundles()] == [1]
    assert len(server.jobs()) == 1


def changelog(bundle: BuiltBundle) -> dict[int, tuple]:
    """The changelog a bundle carries: version → (note, {module: change})."""
    manifest = verify_bundle(bundle.path).manifest
    return {
        entry.version: (entry.note, {item.id: item.change for item in entry.modules})
        for entry in manifest.changelog
    }


def test_a_delta_for_a_school_behind_carries_every_version_it_skips_with_its_note(server, inline):
    client = server.client("editor-zz")
    post(client, PAGE, {"kind": "full", "note": "Première version."})
    server.edit_lesson("zz-sciences-eau", "Le matin, le brouillard se lève.", version=2)
    post(client, PAGE, {"kind": "delta", "note": "  L'eau : le brouillard.  "})
    with server.app.app_context():
        remove_module("zz-histoire-royaume")
        db.session.commit()

    page = client.get(PAGE).get_data(as_text=True)
    assert re.findall(r'<option value="(\d+)"', page) == ["2", "1"]
    post(client, PAGE, {"kind": "delta", "since": "1", "note": "Le royaume est retiré."})

    v1, v2, v3 = server.bundles()
    assert (v2.base_version, v3.base_version) == (1, 1)  # v3: for the schools still on v1
    assert changelog(v1) == {1: ("Première version.", {})}
    assert changelog(v2) == {2: ("L'eau : le brouillard.", {"zz-sciences-eau": "changed"})}
    assert changelog(v3) == {
        2: ("L'eau : le brouillard.", {"zz-sciences-eau": "changed"}),
        3: ("Le royaume est retiré.", {"zz-histoire-royaume": "removed"}),
    }
    verdict = verify_bundle(v3.path, server.trust())
    assert verdict.ok and verdict.manifest.tombstones == ["zz-histoire-royaume"]
    assert [m.id for m in verdict.manifest.modules] == ["zz-sciences-eau"]

    table = Page(client.get(PAGE).get_data(as_text=True).split('id="bundles"', 1)[1]).text
    assert "Le royaume est retiré." in table and "Removed: zz-histoire-royaume" in table
    assert "Changed: Le cycle de l'eau" in table


def test_a_delta_from_a_version_never_built_and_a_long_note_are_refused(server, inline):
    client = server.client("editor-zz")
    build(client)
    server.edit_lesson("zz-sciences-eau", "Le matin, le brouillard se lève.", version=2)
    response = post(client, PAGE, {"kind": "delta", "since": "7"})
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "An update needs a bundle built before it on this server" in followed
    response = post(client, PAGE, {"kind": "full", "note": "x" * 2001})
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The note for the schools is too long" in followed
    assert [bundle.version for bundle in server.bundles()] == [1]


def test_the_real_thread_builds_in_the_background(server):
    client = server.client("editor-zz")
    build(client)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = server.jobs()
        if jobs and jobs[-1].status != "running":
            break
        time.sleep(0.1)
    [job] = server.jobs()
    assert job.status == "done", (job.error_code, job.error_detail)
    assert verify_bundle(server.bundles()[0].path, server.trust()).ok


def test_parts_of_a_split_bundle_are_listed_and_downloaded_separately(server, tmp_path):
    # The page builds single files (parts of 3.9 GB); a bundle split by the command line
    # into small parts stands for a large one.
    with server.app.app_context():
        out = Path(server.app.config["DATA_DIR"]) / "bundles"
        out.mkdir(parents=True)
        key = load_private_key(signing_key_path())
        manifest = build_bundle(
            module_sources("zz"),
            curriculum_of("zz"),
            "zz",
            1,
            out / "zz-main-v1.icb",
            key,
            created="2024-01-01T00:00:00Z",
            part_size=4096,
        )
        parts = sorted(out.glob("zz-main-v1.icb.*"))
        assert len(parts) >= 2
        db.session.add(
            BuiltBundle(
                country_code="zz",
                channel="main",
                version=1,
                path=str(parts[0]),
                size=sum(p.stat().st_size for p in parts),
                manifest=manifest.to_json_bytes().decode(),
                module_count=len(manifest.modules),
                publisher_key_id=key.key_id,
            )
        )
        db.session.commit()
    assert verify_bundle(out / "zz-main-v1.icb", server.trust()).ok
    client = server.client("editor-zz")
    page = client.get(PAGE).get_data(as_text=True)
    links = re.findall(r'href="(/en/national/zz/bundles/1/download[^"]*)"', page)
    assert links == [f"/en/national/zz/bundles/1/download/{n}" for n in range(1, len(parts) + 1)]
    assert "Copy every part into the same folder" in page
    for link, path in zip(links, parts, strict=True):
        response = client.get(link)
        assert response.status_code == 200 and response.data == path.read_bytes()
        assert response.headers["Content-Disposition"].endswith(path.name)
    assert client.get("/en/national/zz/bundles/1/download").status_code == 404
    assert client.get(f"/en/national/zz/bundles/1/download/{len(parts) + 1}").status_code == 404


# ---------------------------------------------------------------------------- sizes

# A size as each language writes it (French groups with a narrow no-break space).
SIZES = {
    "fr": "1\u202f234,6 Mo",
    "en": "1,234.6 MB",
    "ar": "1,234.6 م.ب",
}


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_sizes_are_written_in_the_readers_number_format(server, inline, lang):
    client = server.client("editor-zz")
    build(client)
    [bundle] = server.bundles()
    with open(bundle.path, "r+b") as grown:
        grown.truncate(1_234_567_890)  # sparse: a large bundle that takes no disk space
    page = client.get(f"/{lang}/national/zz/publish").get_data(as_text=True)
    assert f"zz-main-v1.icb</a> ({SIZES[lang]})" in page


def test_the_progress_of_a_build_is_written_in_the_readers_number_format(server, held):
    client = server.client("editor-zz")
    build(client)
    with server.app.app_context():
        job = db.session.scalar(select(BuildJob))
        job.bytes_done, job.bytes_total = 1_500_000, 12_345_678
        db.session.commit()
    page = client.get("/fr/national/zz/publish").get_data(as_text=True)
    assert "1,5 Mo écrits sur 12,3 (12 %)" in page


# ---------------------------------------------------------------------------- who may do what


def test_who_may_publish_and_download(server, inline):
    editor = server.client("editor-zz")
    build(editor)
    download = "/en/national/zz/bundles/1/download"

    anonymous = server.client()
    for url in (PAGE, download):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    teacher = server.client("teacher-zz")
    assert teacher.get(PAGE).status_code == 403
    assert teacher.get(download).status_code == 403
    other = server.client("editor-yy")
    assert other.get(PAGE).status_code == 404
    assert other.get(download).status_code == 404
    assert post(other, PAGE, {"kind": "full"}).status_code == 404
    admin = server.client("admin")
    assert admin.get(PAGE).status_code == 200
    assert admin.get(download).status_code == 200

    # No token, no build.
    assert post(editor, PAGE, {"kind": "full"}, token=False).status_code == 403
    assert len(server.jobs()) == 1


def test_behind_nginx_a_download_is_left_to_it_once_the_app_has_said_yes(server, inline):
    server.app.config["ACCEL_REDIRECT"] = "/_shared/"
    editor = server.client("editor-zz")
    build(editor)
    download = "/en/national/zz/bundles/1/download"

    response = editor.get(download)
    assert response.status_code == 200 and response.data == b""
    [bundle] = server.bundles()
    assert response.headers["X-Accel-Redirect"] == f"/_shared/bundles/{Path(bundle.path).name}"
    assert (
        response.headers["Content-Disposition"] == f"attachment; filename={Path(bundle.path).name}"
    )
    assert "private" in response.headers["Cache-Control"]
    for who, status in (("teacher-zz", 403), ("editor-yy", 404)):
        refused = server.client(who).get(download)
        assert refused.status_code == status and "X-Accel-Redirect" not in refused.headers
