"""Uploads by national teams: a ZIP of modules or of a course, checked, reported, published.

Covers the plain form (no JavaScript), the pieces ``upload.js`` sends (in order, out of
order, cut short and resumed), hostile archives, and who may do what.
"""

from __future__ import annotations

import dataclasses
import html
import io
import os
import re
import shutil
import stat
import tempfile
import uuid
import warnings
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.uploads import operations as upload_zip
from imaginecole.uploads.models import ContentUpload
from sync.container.zipcheck import ZipLimits
from tests.conftest import CORPUS, REPO_ROOT, TEST_CONTENT
from tests.imaginecole.national_helpers import (
    Page,
    add_accounts,
    client_as,
    loaded_app,
    post,
    write_yy,
)

UPLOAD = "/en/national/zz/upload"
START = "/en/national/zz/uploads/start"
ZZ_MODULES = ("zz-histoire-royaume", "zz-maths-fractions", "zz-sciences-eau")


# ---------------------------------------------------------------------------- servers and clients


@dataclasses.dataclass
class Server:
    """A national server whose countries zz and yy have their curricula but no module yet."""

    app: object
    root: Path

    @property
    def data_dir(self) -> Path:
        return Path(self.app.config["DATA_DIR"])

    def client(self, who: str | None = None):
        return client_as(self.app, who)

    def upload(self, upload_id: int) -> ContentUpload:
        with self.app.app_context():
            record = db.session.get(ContentUpload, upload_id)
            db.session.expunge(record)
            return record

    def module_ids(self) -> set[str]:
        with self.app.app_context():
            return set(db.session.scalars(select(Module.uid)))


def make_server(root: Path, countries: tuple[str, ...] = ("zz",), **config) -> Server:
    content = root / "curricula"
    for code in countries:
        (content / code).mkdir(parents=True)
        if code == "fr":
            shutil.copy(REPO_ROOT / "content" / "fr" / "curriculum.toml", content / "fr")
        else:
            shutil.copy(TEST_CONTENT / code / "curriculum.toml", content / code)
    write_yy(content)
    app = loaded_app(root / "data", content, **config)
    people = [
        ("editor-zz", "editor", "zz"),
        ("editor2-zz", "editor", "zz"),
        ("editor-yy", "editor", "yy"),
        ("teacher-zz", "teacher", "zz"),
        ("admin", "admin", None),
    ]
    if "fr" in countries:
        people.append(("editor-fr", "editor", "fr"))
    add_accounts(app, people)
    return Server(app, root)


@pytest.fixture
def server(tmp_path) -> Server:
    return make_server(tmp_path)


def send_zip(client, payload: bytes, name: str = "contenu.zip", **fields):
    data = MultiDict(fields)
    data.add("file", (io.BytesIO(payload), name))
    return post(client, UPLOAD, data, content_type="multipart/form-data")


def upload_id_of(response) -> int:
    assert response.status_code == 302, response.status_code
    match = re.search(r"/uploads/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


# ---------------------------------------------------------------------------- ZIPs


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """Return a ZIP of ``folder``'s contents, each name under ``prefix`` (like "zz/")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            name = prefix + path.relative_to(folder).as_posix()
            if path.is_dir():
                archive.writestr(name + "/", b"")
            else:
                archive.write(path, name)
    return buffer.getvalue()


def zip_entries(*entries: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicate name is what some tests want
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def zz_content(tmp_path: Path) -> Path:
    target = tmp_path / "zz-copy"
    shutil.copytree(TEST_CONTENT / "zz", target)
    return target


def break_module(country_dir: Path) -> None:
    """Give zz-sciences-eau an unknown level and a closed licence (lines 4 and 8)."""
    path = country_dir / "modules" / "zz-sciences-eau" / "module.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('levels = ["CM1", "7e année"]', 'levels = ["CM7"]')
    text = text.replace('licence = "CC-BY-4.0"', 'licence = "CC-BY-NC-4.0"')
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    assert lines[3].startswith("levels") and lines[7].startswith("licence")


def make_course(root: Path) -> Path:
    """A small MkDocs-style course: mkdocs.yml, docs/ with two chapters, one image."""
    course = root / "cours-eau"
    (course / "docs" / "evaporation").mkdir(parents=True)
    (course / "docs" / "pluie").mkdir(parents=True)
    (course / "mkdocs.yml").write_text("site_name: Le cycle de l'eau\n", encoding="utf-8")
    (course / "docs" / "index.md").write_text("# Le cycle de l'eau\n\nBienvenue.\n", "utf-8")
    shutil.copy(
        TEST_CONTENT / "zz" / "modules" / "zz-maths-fractions" / "media" / "disque.png",
        course / "docs" / "evaporation" / "soleil.png",
    )
    (course / "docs" / "evaporation" / "cours.md").write_text(
        "# L'évaporation\n\nAu soleil, l'eau s'évapore.\n\n![Le soleil](soleil.png)\n", "utf-8"
    )
    (course / "docs" / "evaporation" / "exercices.md").write_text(
        "# Exercices\n\n1. Pourquoi la flaque disparaît-elle ?\n", "utf-8"
    )
    (course / "docs" / "pluie" / "cours.md").write_text(
        "# La pluie\n\nLes nuages donnent la pluie.\n", "utf-8"
    )
    return course


# ---------------------------------------------------------------------------- the plain form


def test_the_page_without_javascript_has_a_working_plain_form(server):
    client = server.client("editor-zz")
    response = client.get(UPLOAD)
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    form = next(f for f in page.forms if f.get("id") == "zip-upload")
    assert form["method"] == "post"
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == UPLOAD
    names = {i.get("name"): i for i in form["inputs"]}
    assert names["file"]["type"] == "file"
    assert names["csrf_token"]["value"] == "token-editor-zz"
    assert any(i["tag"] == "button" and i.get("type") == "submit" for i in form["inputs"])
    # The script is ours, from our own host, and only enhances: no inline code.
    assert page.inline_scripts == 0
    assert [s["src"].split("?")[0] for s in page.scripts] == ["/static/upload.js"]
    assert client.get(page.scripts[0]["src"]).status_code == 200


def test_a_zip_of_the_zz_content_validates_clean_then_publishes(server, tmp_path):
    client = server.client("editor-zz")
    payload = zip_folder(zz_content(tmp_path), prefix="zz/")
    upload_id = upload_id_of(send_zip(client, payload, "zedland.zip"))

    record = server.upload(upload_id)
    assert record.status == "valid", record.report
    assert record.kind == "content"
    assert record.problems == []
    assert sorted(m["id"] for m in record.valid_modules) == list(ZZ_MODULES)
    assert {m["state"] for m in record.valid_modules} == {"new"}
    assert record.report["curriculum"] == {"code": "zz", "state": "unchanged"}
    assert server.module_ids() == set()  # checked, nothing loaded

    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "Valid, not yet published" in page
    for uid in ZZ_MODULES:
        assert uid in page
    assert "valid_only" not in page  # no problems: no "valid part only" choice

    response = post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert response.status_code == 302
    record = server.upload(upload_id)
    assert record.status == "published"
    assert record.report["published"]["modules_added"] == 3
    assert server.module_ids() == set(ZZ_MODULES)
    # The staged files went with the publication.
    assert not (server.data_dir / "uploads" / str(upload_id) / "files").exists()

    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "3 modules added" in page
    listing = client.get(UPLOAD).get_data(as_text=True)
    assert "zedland.zip" in listing and "Published" in listing
    # The catalogue shows the published module to anyone.
    module_page = server.app.test_client().get("/fr/modules/zz-sciences-eau/")
    assert module_page.status_code == 200
    assert "Le cycle de l'eau" in html.unescape(module_page.get_data(as_text=True))

    # Publishing again is refused: one publication per upload.
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.upload(upload_id).status == "published"


@pytest.mark.parametrize("layout", ["modules-folder", "module-folders", "one-module-unwrapped"])
def test_modules_without_a_curriculum_are_read_against_the_loaded_one(server, tmp_path, layout):
    modules = zz_content(tmp_path) / "modules"
    if layout == "modules-folder":
        payload, expected = zip_folder(modules, "modules/"), set(ZZ_MODULES)
    elif layout == "module-folders":
        payload, expected = zip_folder(modules), set(ZZ_MODULES)
    else:
        # The files of one module at the top of the ZIP: the folder gets its id back.
        payload = zip_folder(modules / "zz-sciences-eau")
        expected = {"zz-sciences-eau"}
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, payload, "modules.zip"))
    record = server.upload(upload_id)
    assert record.status == "valid", record.report
    assert {m["id"] for m in record.valid_modules} == expected
    assert record.report["curriculum"] is None
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.module_ids() == expected


@pytest.mark.parametrize("prefix", ["zz/", ""])
def test_a_broken_module_is_reported_with_file_line_and_field(server, tmp_path, prefix):
    # Paths read as inside the ZIP, whether it holds the country folder or its contents.
    country = zz_content(tmp_path)
    break_module(country)
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(country, prefix), "zz.zip"))
    record = server.upload(upload_id)
    assert record.status == "problems"
    where = {(p["path"], p["line"], p["field"]) for p in record.problems}
    toml = f"{prefix}modules/zz-sciences-eau/module.toml"
    assert (toml, 4, "levels") in where
    assert (toml, 8, "licence") in where
    assert [m["id"] for m in record.report["invalid_modules"]] == ["zz-sciences-eau"]
    assert {m["id"] for m in record.valid_modules} == {"zz-histoire-royaume", "zz-maths-fractions"}

    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    text = Page(page).text
    assert f"File {toml}, line 4, field levels:" in text
    assert f"File {toml}, line 8, field licence:" in text
    assert 'level "CM7" is not in the curriculum of zz' in text
    # The checker's English sentence is marked as English; the field is explained.
    assert re.search(
        r'<span lang="en" dir="ltr">level &#34;CM7&#34;|<span lang="en" dir="ltr">level "CM7"', page
    )
    assert "Levels are the codes of your curriculum" in text
    assert "open licence we accept" in text
    assert 'name="valid_only"' in page

    # Without "valid part only", nothing is published.
    response = post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert response.status_code == 302
    assert server.upload(upload_id).status == "problems"
    assert server.module_ids() == set()
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "nothing was published" in followed

    # Asked explicitly, the valid modules are published and the broken one is not.
    post(client, f"/en/national/zz/uploads/{upload_id}/publish", {"valid_only": "1"})
    record = server.upload(upload_id)
    assert record.status == "published"
    assert record.report["published"]["valid_only"] is True
    assert server.module_ids() == {"zz-histoire-royaume", "zz-maths-fractions"}


def test_a_mistake_in_an_exercise_is_reported_in_the_editor_s_language(server, tmp_path):
    country = zz_content(tmp_path)
    lesson = country / "modules" / "zz-sciences-eau" / "01-evaporation.md"
    lesson.write_text(
        lesson.read_text(encoding="utf-8") + "\n```exercice\n- [x] oui\n```\n", encoding="utf-8"
    )
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(country), "zz.zip"))
    assert server.upload(upload_id).status == "problems"

    page = Page(client.get(f"/fr/national/zz/uploads/{upload_id}").get_data(as_text=True)).text
    assert "modules/zz-sciences-eau/01-evaporation.md" in page
    assert "l’exercice n’a pas de question" in page.replace("'", "’")
    assert "the exercise has no question" not in page


def test_the_report_writes_the_upload_s_size_in_the_reader_s_number_format(server, tmp_path):
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(zz_content(tmp_path)), "zz.zip"))
    page = Page(client.get(f"/fr/national/zz/uploads/{upload_id}").get_data(as_text=True)).text
    assert "0,1 Mo" in page  # a small ZIP is said to be a tenth of a megabyte at least
    page = Page(client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)).text
    assert "0.1 MB" in page


def test_a_module_of_another_country_or_an_older_version_is_a_problem(server, tmp_path):
    country = zz_content(tmp_path)
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(country, "zz/")))
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.module_ids() == set(ZZ_MODULES)

    # Published at version 1; a copy claiming version 0 is refused by the checker itself,
    # and a lower version than the loaded one is caught before publishing.
    path = country / "modules" / "zz-sciences-eau" / "module.toml"
    path.write_text(path.read_text("utf-8").replace("version = 1", "version = 3"), "utf-8")
    upload_id = upload_id_of(send_zip(client, zip_folder(country / "modules", "modules/")))
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    path.write_text(path.read_text("utf-8").replace("version = 3", "version = 2"), "utf-8")
    upload_id = upload_id_of(send_zip(client, zip_folder(country / "modules", "modules/")))
    record = server.upload(upload_id)
    assert record.status == "problems"
    codes = {(p.get("code"), p["field"]) for p in record.problems}
    assert ("version_older", "version") in codes
    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "version 2 is older than the version already published (3)" in page


def test_unchanged_content_with_the_same_version_is_noted(server, tmp_path):
    country = zz_content(tmp_path)
    client = server.client("editor-zz")
    post(
        client,
        f"/en/national/zz/uploads/{upload_id_of(send_zip(client, zip_folder(country, 'zz/')))}/publish",
    )
    lesson = country / "modules" / "zz-sciences-eau" / "01-evaporation.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nLe soir, la mare a baissé.\n", "utf-8")
    upload_id = upload_id_of(send_zip(client, zip_folder(country, "zz/")))
    record = server.upload(upload_id)
    assert record.status == "valid"
    states = {m["id"]: m["state"] for m in record.valid_modules}
    assert states == {
        "zz-histoire-royaume": "unchanged",
        "zz-maths-fractions": "unchanged",
        "zz-sciences-eau": "changed",
    }
    assert record.report["notes"] == [
        {"code": "version_not_raised", "module": "zz-sciences-eau", "version": 1}
    ]
    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "the content changed but its version is still 1" in page


# ---------------------------------------------------------------------------- courses


def test_a_course_folder_is_imported_with_the_level_and_subject_chosen(server, tmp_path):
    payload = zip_folder(make_course(tmp_path), "cours-eau/")
    client = server.client("editor-zz")
    response = send_zip(
        client, payload, "cours-eau.zip", levels="CM1", subject="sciences", licence="CC-BY-4.0"
    )
    upload_id = upload_id_of(response)
    record = server.upload(upload_id)
    assert record.kind == "course"
    assert record.status == "valid", record.report
    ids = {m["id"] for m in record.valid_modules}
    assert ids and all(uid.startswith("zz-cours-eau") for uid in ids)
    assert sum(m["lessons"] for m in record.valid_modules) == 4

    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "Markdown course folder" in page
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.upload(upload_id).status == "published"
    assert server.module_ids() == ids
    with server.app.app_context():
        module = db.session.scalar(select(Module).where(Module.uid.in_(ids)).limit(1))
        assert [lv.code for lv in module.levels] == ["CM1"]
        assert module.subject.slug == "sciences"
        assert module.licence == "CC-BY-4.0"


def test_a_course_without_level_or_subject_can_be_read_again(server, tmp_path):
    # A ZIP of the course's contents only: the course is named after the ZIP.
    payload = zip_folder(make_course(tmp_path))
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, payload, "Cycle de l'eau.zip"))
    record = server.upload(upload_id)
    assert record.kind == "course"
    assert record.status == "problems"
    fields = {p["field"] for p in record.problems}
    assert {"levels", "subject"} <= fields
    page = Page(client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)).text
    assert "Settings of the upload, field levels:" in page

    post(
        client,
        f"/en/national/zz/uploads/{upload_id}/options",
        MultiDict([("levels", "CM1"), ("levels", "7e année"), ("subject", "sciences")]),
    )
    record = server.upload(upload_id)
    assert record.status == "valid", record.report
    assert record.options["levels"] == ["CM1", "7e année"]
    assert all(m["id"].startswith("zz-cycle-de-l-eau") for m in record.valid_modules)


def test_a_course_is_grouped_under_a_competency_and_undescribed_images_are_listed(server, tmp_path):
    # What `content import-course --competency` does, and the "no description" lines it prints.
    course = make_course(tmp_path)
    page_with_image = course / "docs" / "pluie" / "cours.md"
    shutil.copy(
        course / "docs" / "evaporation" / "soleil.png", page_with_image.parent / "nuage.png"
    )
    page_with_image.write_text("# La pluie\n\nLes nuages.\n\n![](nuage.png)\n", "utf-8")
    client = server.client("editor-zz")
    form = client.get(UPLOAD).get_data(as_text=True)
    assert '<select id="upload-competencies" name="competencies" multiple' in form
    assert re.search(r'<option value="ZZ-SCI-1"[^>]*>ZZ-SCI-1 · ', form)

    fields = MultiDict([("levels", "CM1"), ("subject", "sciences"), ("competencies", "ZZ-MATH-1")])
    data = MultiDict(fields)
    data.add("file", (io.BytesIO(zip_folder(course, "cours-eau/")), "cours-eau.zip"))
    upload_id = upload_id_of(post(client, UPLOAD, data, content_type="multipart/form-data"))
    record = server.upload(upload_id)
    assert record.status == "problems"
    [problem] = [p for p in record.problems if p["field"] == "competencies"]
    assert 'belongs to the subject "mathematiques", not "sciences"' in problem["message"]
    report = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    text = Page(report).text
    assert 'field competencies: competency "ZZ-MATH-1" belongs to the subject' in text
    assert "Each competency is a code from your curriculum" in text

    post(
        client,
        f"/en/national/zz/uploads/{upload_id}/options",
        MultiDict([("levels", "CM1"), ("subject", "sciences"), ("competencies", "ZZ-SCI-1")]),
    )
    record = server.upload(upload_id)
    assert record.status == "valid", record.report
    assert record.options["competencies"] == ["ZZ-SCI-1"]
    report = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    text = Page(report).text
    assert "Competencies taught: ZZ-SCI-1" in text
    assert '<option value="ZZ-SCI-1" selected' in report  # the form to read it again keeps it
    assert "Images without a description" in text
    assert "File cours-eau/docs/pluie/cours.md, line 5, field image:" in text
    assert '"nuage.png": no description (alt text)' in text
    assert "soleil.png" not in text.split("Images without a description", 1)[1]

    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    with server.app.app_context():
        modules = db.session.scalars(select(Module).where(Module.uid.like("zz-cours-eau%"))).all()
        assert modules
        assert all([c.code for c in m.competencies("teaches")] == ["ZZ-SCI-1"] for m in modules)
    french = client.get(f"/fr/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "Images sans description" in Page(french).text


@pytest.mark.corpus
def test_the_roche_course_of_the_corpus_imports(tmp_path):
    source = CORPUS / "roche-nsi-terminale"
    if not source.is_dir():
        pytest.skip(f"the course corpus is not at {CORPUS}")
    server = make_server(tmp_path, countries=("zz", "fr"))
    client = server.client("editor-fr")
    data = MultiDict({"levels": "Tle", "subject": "nsi", "licence": "CC0-1.0"})
    data.add("file", (io.BytesIO(zip_folder(source, "roche-nsi-terminale/")), "roche.zip"))
    response = post(client, "/en/national/fr/upload", data, content_type="multipart/form-data")
    upload_id = upload_id_of(response)
    record = server.upload(upload_id)
    assert record.kind == "course"
    assert record.status == "valid", record.problems[:5]
    lessons = sum(m["lessons"] for m in record.valid_modules)
    assert lessons >= 60
    post(client, f"/en/national/fr/uploads/{upload_id}/publish")
    record = server.upload(upload_id)
    assert record.status == "published"
    assert record.report["published"]["lessons_loaded"] == lessons
    assert len(server.module_ids()) == len(record.valid_modules)


# ---------------------------------------------------------------------------- hostile archives


SYSTEM_TEMP = Path(tempfile.gettempdir())  # where an absolute name would most likely aim


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("zz/modules/lien")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _lying_entry(real_size: int = 3 * 1024 * 1024, claimed: int = 1000) -> bytes:
    """A ZIP whose only entry declares ``claimed`` bytes but inflates to ``real_size``."""
    payload = zip_entries(("zz/modules/a/01-a.md", b"\0" * real_size))
    patched = bytearray(payload)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = patched.index(signature)
        patched[at + offset : at + offset + 4] = claimed.to_bytes(4, "little")
    return bytes(patched)


HOSTILE = {
    "parent": (lambda name: zip_entries((f"../{name}", b"x")), "unsafe_name"),
    "nested-parent": (lambda name: zip_entries((f"zz/../../{name}", b"x")), "unsafe_name"),
    "backslash-parent": (lambda name: zip_entries((f"..\\{name}", b"x")), "unsafe_name"),
    "absolute": (
        lambda name: zip_entries((f"{SYSTEM_TEMP.as_posix()}/{name}", b"x")),
        "unsafe_name",
    ),
    "drive-letter": (lambda name: zip_entries((f"C:/{name}", b"x")), "unsafe_name"),
    "symlink": (
        lambda name: zip_entries(("zz/ok.md", b"# ok\n"), (_symlink_entry(), b"/etc/passwd")),
        "link",
    ),
    "bomb": (lambda name: zip_entries(("zz/zeros.md", b"\0" * (40 * 1024 * 1024))), "bomb"),
    "lying-size": (lambda name: _lying_entry(), {"bomb", "corrupt"}),
    "not-a-zip": (lambda name: b"This is not a ZIP archive at all.\n" * 10, "not_zip"),
    "duplicate": (lambda name: zip_entries(("a.md", b"1"), ("a.md", b"2")), "duplicate"),
    "encrypted": (
        lambda name: bytes(_encrypted_flag(zip_entries(("zz/a.md", b"secret")))),
        "encrypted",
    ),
}


def _encrypted_flag(payload: bytes) -> bytearray:
    patched = bytearray(payload)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = patched.index(signature)
        patched[at + offset] |= 0x1
    return patched


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zips_are_refused_and_leave_nothing(server, tmp_path, case):
    marker = f"evil-{uuid.uuid4().hex}.txt"
    build, expected = HOSTILE[case]
    payload = build(marker)
    before = _all_files(tmp_path)
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, payload, "piege.zip"))
    record = server.upload(upload_id)
    assert record.status == "refused"
    expected = expected if isinstance(expected, set) else {expected}
    assert record.report["error"] in expected
    # Nothing of it is kept, nothing was written beside it or anywhere else.
    assert not (server.data_dir / "uploads" / str(upload_id)).exists()
    after = _all_files(tmp_path)
    new = {p for p in after - before if "uploads" not in p.parts or p.name == marker}
    allowed = {".sqlite3", ".sqlite3-wal", ".sqlite3-shm"}
    assert {p for p in new if p.suffix not in allowed and "index" not in p.parts} == set()
    assert not list(tmp_path.rglob(marker))
    assert not (SYSTEM_TEMP / marker).exists()
    assert server.module_ids() == set()
    page = client.get(f"/en/national/zz/uploads/{upload_id}").get_data(as_text=True)
    assert "Refused" in page and "Nothing of this archive was kept" in page


def test_limits_on_files_and_sizes_come_from_the_settings(tmp_path):
    server = make_server(tmp_path, ZIP_MAX_FILES=3, ZIP_MAX_UNPACKED_MB=1, MAX_ZIP_MB=1)
    client = server.client("editor-zz")
    many = zip_entries(*[(f"zz/{n}.md", b"# x\n") for n in range(4)])
    # Hex text packs about 2:1: a small ZIP, larger than 1 MB once unpacked, and no bomb.
    text = os.urandom(375_000).hex().encode()
    large = zip_entries(("zz/a.md", text), ("zz/b.md", text))
    assert len(large) < 1024 * 1024
    too_big = os.urandom(1024 * 1024 + 10)  # over MAX_ZIP_MB before it is even read as a ZIP
    for payload, code in (
        (many, "too_many_files"),
        (large, "too_large_unpacked"),
        (too_big, "too_big"),
    ):
        record = server.upload(upload_id_of(send_zip(client, payload)))
        assert record.status == "refused"
        assert record.report["error"] == code
    page = client.get(f"/en/national/zz/uploads/{record.id}").get_data(as_text=True)
    assert "larger than the limit of 1 MB" in page


def test_the_size_limit_is_raised_for_the_upload_only(tmp_path):
    # Other forms keep the app's limit (MAX_UPLOAD_MB + 2 = 3 MiB here).
    server = make_server(tmp_path, MAX_UPLOAD_MB=1, MAX_ZIP_MB=12)
    client = server.client("editor-zz")
    payload = io.BytesIO(zip_folder(zz_content(tmp_path), "zz/"))
    with zipfile.ZipFile(payload, "a") as archive:
        archive.writestr(zipfile.ZipInfo("zz/extra.bin"), os.urandom(5 * 1024 * 1024))
    payload = payload.getvalue()
    record = server.upload(upload_id_of(send_zip(client, payload)))
    assert record.status == "valid", record.report
    assert record.size == len(payload)

    data = {"name": "x.zip", "size": "10", "padding": "x" * (4 * 1024 * 1024)}
    assert post(client, START, data).status_code == 413
    token = start(client, 9 * 1024 * 1024)
    assert send_chunk(client, token, 0, b"x" * (8 * 1024 * 1024 + 1)).status_code == 413
    assert status(client, token).get_json()["size"] == 0

    # Far beyond the limit, the form says so itself.
    response = send_zip(client, os.urandom(15 * 1024 * 1024))
    assert response.status_code == 413
    text = Page(response.get_data(as_text=True)).text
    assert "The file is larger than the limit of 12 MB." in text
    assert any(f.get("id") == "zip-upload" for f in Page(response.get_data(as_text=True)).forms)


def test_extraction_writes_no_link_and_stays_in_its_folder(tmp_path):
    archive = tmp_path / "links.zip"
    archive.write_bytes(zip_entries(("a/ok.md", b"# ok\n"), (_symlink_entry(), b"/etc/passwd")))
    target = tmp_path / "out"
    with pytest.raises(upload_zip.ZipRefused) as refused:
        upload_zip.extract_zip(archive, target, ZipLimits())
    assert refused.value.code == "link"
    assert not target.exists()


def test_junk_of_archivers_is_ignored_and_utf8_names_are_read(server, tmp_path):
    country = zz_content(tmp_path)
    payload = zip_folder(country, "zz/")
    extra = io.BytesIO(payload)
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("__MACOSX/zz/._curriculum.toml", b"\0\0")
        archive.writestr("zz/.DS_Store", b"\0")
    client = server.client("editor-zz")
    record = server.upload(upload_id_of(send_zip(client, extra.getvalue())))
    assert record.status == "valid", record.report


def test_a_zip_of_another_country_is_refused(server, tmp_path):
    country = zz_content(tmp_path)
    client = server.client("editor-yy")
    data = MultiDict()
    data.add("file", (io.BytesIO(zip_folder(country, "zz/")), "zz.zip"))
    response = post(client, "/en/national/yy/upload", data, content_type="multipart/form-data")
    record = server.upload(upload_id_of(response))
    assert record.status == "refused"
    assert record.report["error"] == "other_country"


def test_abandoned_checked_uploads_expire(server, tmp_path):
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(zz_content(tmp_path), "zz/")))
    folder = server.data_dir / "uploads" / str(upload_id)
    assert folder.is_dir()
    with server.app.app_context():
        record = db.session.get(ContentUpload, upload_id)
        record.created_at = datetime.now(UTC) - timedelta(days=15)
        db.session.commit()
        assert upload_zip.cleanup_uploads() == 1
        db.session.commit()
    assert server.upload(upload_id).status == "expired"
    assert not folder.exists()
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.module_ids() == set()


def test_a_publication_whose_worker_died_can_be_run_again(server, tmp_path):
    client = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(client, zip_folder(zz_content(tmp_path), "zz/")))
    with server.app.app_context():
        record = db.session.get(ContentUpload, upload_id)
        record.status = "publishing"
        record.published_at = datetime.now(UTC) - timedelta(minutes=5)
        db.session.commit()
        assert upload_zip.cleanup_uploads() == 0  # still running, as far as anyone knows
        record.published_at = datetime.now(UTC) - timedelta(hours=2)
        db.session.commit()
        assert upload_zip.cleanup_uploads() == 1
        db.session.commit()
    assert server.upload(upload_id).status == "valid"
    post(client, f"/en/national/zz/uploads/{upload_id}/publish")
    assert server.upload(upload_id).status == "published"
    assert server.module_ids() == set(ZZ_MODULES)


# ---------------------------------------------------------------------------- in pieces


def chunk_url(token: str, offset: int) -> str:
    return f"/en/national/zz/uploads/{token}/chunk?offset={offset}"


def send_chunk(client, token: str, offset: int, data: bytes, header: bool = True, **kwargs):
    headers = {"X-CSRF-Token": f"token-{client.who}"} if header else {}
    return client.post(
        chunk_url(token, offset),
        data=data,
        content_type="application/octet-stream",
        headers=headers,
        **kwargs,
    )


def start(client, size: int, name: str = "zedland.zip", last_modified: int = 1700000000000):
    response = post(
        client, START, {"name": name, "size": str(size), "last_modified": str(last_modified)}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["token"]


def status(client, token: str):
    return client.get(f"/en/national/zz/uploads/{token}/status")


def test_pieces_in_order_make_the_file_and_finish_checks_it(server, tmp_path):
    payload = zip_folder(zz_content(tmp_path), "zz/")
    client = server.client("editor-zz")
    token = start(client, len(payload))
    assert status(client, token).get_json() == {"token": token, "size": 0, "total": len(payload)}
    size = 0
    step = len(payload) // 3 + 1
    for offset in range(0, len(payload), step):
        response = send_chunk(client, token, offset, payload[offset : offset + step])
        assert response.status_code == 200
        size = response.get_json()["size"]
        assert size == min(offset + step, len(payload))
    response = post(client, f"/en/national/zz/uploads/{token}/finish", {"levels": "CM1"})
    assert response.status_code == 200
    report_url = response.get_json()["report_url"]
    upload_id = int(report_url.rsplit("/", 1)[1])
    record = server.upload(upload_id)
    assert record.status == "valid"
    assert record.file_name == "zedland.zip"
    assert record.size == len(payload)
    # Asked again (the answer was lost), finish gives the same upload, and status says so.
    again = post(client, f"/en/national/zz/uploads/{token}/finish")
    assert again.get_json()["report_url"] == report_url
    assert status(client, token).get_json()["report_url"] == report_url
    assert send_chunk(client, token, 0, payload[:10]).status_code == 409
    with server.app.app_context():
        assert db.session.scalar(select(db.func.count(ContentUpload.id))) == 1


def test_a_piece_at_the_wrong_offset_is_refused(server):
    client = server.client("editor-zz")
    token = start(client, 100)
    response = send_chunk(client, token, 10, b"x" * 10)
    assert response.status_code == 409
    assert response.get_json()["error"] == "offset"
    assert response.get_json()["size"] == 0
    assert send_chunk(client, token, 0, b"x" * 40).get_json()["size"] == 40
    replay = send_chunk(client, token, 0, b"x" * 40)  # the same piece sent twice
    assert replay.status_code == 409 and replay.get_json()["size"] == 40
    beyond = send_chunk(client, token, 40, b"x" * 61)  # more than the file announced
    assert beyond.status_code == 413
    assert status(client, token).get_json()["size"] == 40
    early = post(client, f"/en/national/zz/uploads/{token}/finish")
    assert early.status_code == 409 and early.get_json()["error"] == "incomplete"
    assert send_chunk(client, token, -1, b"x").status_code == 400


def test_an_interrupted_upload_resumes_where_it_stopped(server, tmp_path):
    payload = zip_folder(zz_content(tmp_path), "zz/")
    client = server.client("editor-zz")
    token = start(client, len(payload))
    first = len(payload) // 4
    assert send_chunk(client, token, 0, payload[:first]).status_code == 200

    # The next piece is cut off halfway: the request announced more than ever arrived.
    piece = payload[first : first + first]
    half = piece[: len(piece) // 2]
    cut = send_chunk(
        client, token, first, half, environ_overrides={"CONTENT_LENGTH": str(len(piece))}
    )
    assert cut.status_code == 400
    # The page is reloaded: a new client of the same person asks where things stand.
    client = server.client("editor-zz")
    where = status(client, token).get_json()
    assert where["size"] == first + len(half)
    assert where["total"] == len(payload)

    offset = where["size"]
    while offset < len(payload):
        offset = send_chunk(client, token, offset, payload[offset : offset + 5000]).get_json()[
            "size"
        ]
    response = post(client, f"/en/national/zz/uploads/{token}/finish")
    record = server.upload(int(response.get_json()["report_url"].rsplit("/", 1)[1]))
    assert record.status == "valid", record.report
    assert {m["id"] for m in record.valid_modules} == set(ZZ_MODULES)


def test_partial_uploads_expire_after_two_days(server):
    client = server.client("editor-zz")
    token = start(client, 100)
    send_chunk(client, token, 0, b"x" * 10)
    incoming = server.data_dir / "uploads" / "incoming"
    old = (datetime.now(UTC) - timedelta(days=3)).timestamp()
    for path in incoming.glob(f"{token}.*"):
        os.utime(path, (old, old))
    fresh = start(client, 100)  # starting another upload cleans up
    assert status(client, token).status_code == 404
    assert not list(incoming.glob(f"{token}.*"))
    assert status(client, fresh).status_code == 200


def test_a_start_beyond_the_limit_is_refused(tmp_path):
    server = make_server(tmp_path, MAX_ZIP_MB=1)
    client = server.client("editor-zz")
    response = post(client, START, {"name": "big.zip", "size": str(2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_big"
    assert post(client, START, {"name": "x.zip", "size": "nope"}).status_code == 400


# ---------------------------------------------------------------------------- who may do what


def test_who_may_upload(server, tmp_path):
    payload = zip_folder(zz_content(tmp_path), "zz/")
    editor = server.client("editor-zz")
    upload_id = upload_id_of(send_zip(editor, payload))
    token = start(editor, 100)
    report = f"/en/national/zz/uploads/{upload_id}"

    anonymous = server.client()
    response = anonymous.get(UPLOAD)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anonymous.get(report).status_code == 302

    teacher = server.client("teacher-zz")
    assert teacher.get(UPLOAD).status_code == 403
    assert teacher.get(report).status_code == 403

    other = server.client("editor-yy")
    assert other.get(UPLOAD).status_code == 404
    assert other.get(report).status_code == 404
    assert post(other, f"{report}/publish").status_code == 404
    assert other.get(f"/en/national/zz/uploads/{token}/status").status_code == 404
    # Their own country's address does not reach zz's upload either.
    assert other.get(f"/en/national/yy/uploads/{upload_id}").status_code == 404

    # A colleague of the same country sees the report, but not someone else's pieces.
    colleague = server.client("editor2-zz")
    assert colleague.get(report).status_code == 200
    assert colleague.get(f"/en/national/zz/uploads/{token}/status").status_code == 404
    assert send_chunk(colleague, token, 0, b"x").status_code == 404

    admin = server.client("admin")
    assert admin.get(UPLOAD).status_code == 200
    assert admin.get(report).status_code == 200
    assert server.upload(upload_id).status == "valid"


def test_every_write_needs_the_csrf_token(server, tmp_path):
    editor = server.client("editor-zz")
    data = MultiDict()
    data.add("file", (io.BytesIO(zip_folder(zz_content(tmp_path), "zz/")), "zz.zip"))
    assert (
        post(editor, UPLOAD, data, token=False, content_type="multipart/form-data").status_code
        == 403
    )
    assert post(editor, START, {"size": "100"}, token=False).status_code == 403
    token = start(editor, 100)
    # Pieces carry the token in a header: without it, or with a wrong one, they are refused.
    assert send_chunk(editor, token, 0, b"x" * 10, header=False).status_code == 403
    wrong = editor.post(
        chunk_url(token, 0),
        data=b"x" * 10,
        content_type="application/octet-stream",
        headers={"X-CSRF-Token": "token-someone-else"},
    )
    assert wrong.status_code == 403
    assert status(editor, token).get_json()["size"] == 0
    assert post(editor, f"/en/national/zz/uploads/{token}/finish", token=False).status_code == 403
    with server.app.app_context():
        assert db.session.scalar(select(db.func.count(ContentUpload.id))) == 0
