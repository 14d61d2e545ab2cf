"""Teachers' work travelling between servers, through files only, as on a USB stick.

Two school servers (A and B) and a national one, each on its own data folder with zz loaded.
The schools' keys are enrolled on the national server with `imaginecole submissions key` and
`submissions enroll`; the schools trust the national server's bundle key. The merge rules
themselves have library tests (tests/sync/submissions/); these check that the app
applies them: what the database holds, what the pages show, and what travels back down.
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.bundles.keys import generate_signing_key
from imaginecole.extensions import db
from imaginecole.review.models import EnrolledSchool, ReceivedPackage
from imaginecole.submissions.models import Submission
from sync.bundle import load_public_key, trust_entry_toml
from sync.content import MODULE_ID
from sync.submissions import FileRef, make_revision
from tests.conftest import REPO_ROOT, load_content
from tests.imaginecole.bundles.test_operations import (
    MainText,
    database_rows,
    store_files,
    subprocess_env,
)
from tests.imaginecole.submissions.test_editor import (
    ADMIN,
    EDITOR,
    MINE,
    NEW,
    TEACHER,
    copy_server,
    csrf,
    fast_passwords,
    image_bytes,
    lesson,
    new_server,
    post_form,
    sign_in,
    text_of,
    uid_from,
)
from tests.imaginecole.submissions.test_permissions import content_with_two_countries

TEACHER_B = "fatou@ecole-b.zz"
TEACHER_C = "kofi@ecole-c.zz"
SCHOOLS = {
    # folder: (enrolled name, teacher e-mail, teacher name)
    "school_a": ("École A de Zedville", TEACHER, "Awa Diop"),
    "school_b": ("École B de Zedbourg", TEACHER_B, "Fatou Sow"),
}
RUBRIC = ("curriculum_fit", "accuracy", "pedagogy", "accessibility", "licence")
NOTHING = "Nothing to export: every submission has reached the national server."
REFUSED = "Package refused, nothing was changed: "
BUILT = re.compile(r"Built (\S+): zz main v(\d+)")


# ---------------------------------------------------------------------------- the servers


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def settle(app) -> None:
    """Close the database connections, so that the data folder can be copied as it is."""
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Path:
    """Data folders of the national server and of schools A and B, set up once."""
    root = tmp_path_factory.mktemp("exchange")
    national = new_server(
        root / "national",
        [(EDITOR, "Moussa Ba", "editor", "zz", ""), (ADMIN, "Admin", "admin", None, "")],
    )
    with national.app_context():
        generate_signing_key()
    trust = "format = 1\n\n" + trust_entry_toml(
        load_public_key(root / "national" / "keys" / "publisher.pub"), ["zz"], "Zedland"
    )
    entries = ["format = 1\n"]
    for folder, (name, email, teacher) in SCHOOLS.items():
        school = new_server(
            root / folder,
            [(email, teacher, "teacher", "zz", name), (ADMIN, "Admin", "admin", None, "")],
        )
        result = cli(school, "submissions", "key", "--country", "zz", "--name", name)
        assert result.exit_code == 0, result.output
        assert "Created this school server's key" in result.stderr
        entries.append(result.stdout)
        (root / folder / "trust.toml").write_text(trust, encoding="utf-8")
        settle(school)
    (root / "enrolment.toml").write_text("\n".join(entries), encoding="utf-8")
    result = cli(national, "submissions", "enroll", str(root / "enrolment.toml"))
    assert result.exit_code == 0, result.output
    assert result.output.count("Enrolled ") == 2
    settle(national)
    return root


@dataclass
class World:
    root: Path
    national: object
    school_a: object
    school_b: object

    def package(self, name: str) -> Path:
        return self.root / "stick" / f"{name}.icsub"


@pytest.fixture
def world(templates, tmp_path) -> World:
    servers = {
        name: copy_server(templates / name, tmp_path / name)
        for name in ("national", "school_a", "school_b")
    }
    (tmp_path / "stick").mkdir()
    return World(tmp_path, **servers)


# ---------------------------------------------------------------------------- steps


def write(teacher, title: str = "Le baobab et les fractions", **changes) -> str:
    """Write and submit a resource with a picture through the editor; return its uid."""
    markdown = (
        f"# {title}\n\nLe baobab du village donne des fruits : on les partage en "
        "$\\frac{1}{4}$.\n\n![Le baobab](baobab.jpg)\n"
    )
    fields = lesson(title=title, markdown=markdown, action="submit", **changes)
    return uid_from(post_form(teacher, NEW, fields, files=[(image_bytes(), "baobab.jpg")]))


def edit(teacher, app, uid: str, action: str = "submit", **changes) -> None:
    """Edit a resource through the editor, keeping its files."""
    page = teacher.get(f"{MINE}/{uid}/edit").get_data(as_text=True)
    with app.app_context():
        latest = db.session.scalar(select(Submission).filter_by(uid=uid)).latest
        fields = {
            "title": latest.title, "summary": latest.summary, "language": latest.language,
            "levels": list(latest.levels), "subject": latest.subject,
            "competencies": list(latest.competencies), "licence": latest.licence,
            "markdown": latest.markdown,
        }  # fmt: skip
    fields.update(changes, action=action)
    fields["keep_file"] = re.findall(r'name="keep_file" value="(\d+)" checked', page)
    response = post_form(teacher, f"{MINE}/{uid}/edit", fields)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def export(school, path: Path):
    return cli(school, "submissions", "export", "--out", str(path))


def exported(school, path: Path) -> Path:
    result = export(school, path)
    assert result.exit_code == 0, result.output
    assert f"Wrote {path}" in result.output
    return path


def receive(national, path: Path):
    return cli(national, "submissions", "import", str(path))


def received(national, path: Path) -> str:
    result = receive(national, path)
    assert result.exit_code == 0, result.output
    return result.output


def build(national) -> Path:
    result = cli(national, "bundle", "build", "--country", "zz")
    assert result.exit_code == 0, result.output
    return Path(BUILT.search(result.output).group(1))


def install(school, bundle: Path) -> None:
    result = cli(school, "bundle", "import", str(bundle))
    assert result.exit_code == 0, result.output


def review(editor, uid: str, decision: str, comment: str = "", **edits):
    fields = {f"score_{c}": "3" for c in RUBRIC}
    fields.update(decision=decision, comment=comment, csrf_token=csrf(editor), **edits)
    return editor.post(f"/en/review/{uid}", data=fields)


def rows(app) -> dict:
    """Every row of every table but the accounts (signing in records the time)."""
    return {name: r for name, r in database_rows(app).items() if name != "user"}


def manifest(package: Path) -> dict:
    with zipfile.ZipFile(package) as archive:
        return json.loads(archive.read("manifest.json"))


def sent_revisions(package: Path) -> dict[str, list[str]]:
    return {s["uid"]: [r["uid"] for r in s["revisions"]] for s in manifest(package)["submissions"]}


def revision_uids(app, uid: str) -> list[str]:
    with app.app_context():
        submission = db.session.scalar(select(Submission).filter_by(uid=uid))
        return [r.uid for r in submission.revisions]


def state(app, shown: bool = True) -> dict:
    """What the national server holds of the submissions, without ids or times."""
    with app.app_context():
        found = db.session.scalars(select(Submission).where(Submission.school_key_id.is_not(None)))
        submissions = {}
        for s in found:
            submissions[s.uid] = {
                "country": s.country_code,
                "status": s.status,
                "school": (s.school_key_id, s.school_name),
                "teacher": (s.teacher_ref, s.teacher_name),
                "conflict": s.conflict,
                "duplicate_of": s.duplicate_of,
                "comment": s.comment,
                "module": s.module_uid,
                "revisions": sorted(
                    (r.uid, r.parent_uid, r.content_hash, r.title, r.markdown, json.dumps(r.files))
                    for r in s.revisions
                ),
            }
            if shown:
                submissions[s.uid]["shown"] = (s.latest.uid, s.latest.title)
        packages = sorted(db.session.scalars(select(ReceivedPackage.manifest_sha256)))
        return {"submissions": submissions, "packages": packages}


def national_row(app, uid: str) -> dict:
    return state(app)["submissions"][uid]


def queue(editor, query: str = "") -> dict[str, str]:
    """The queue's rows: submission uid -> the row's text."""
    page = editor.get(f"/en/review/{query}").get_data(as_text=True)
    rows = re.findall(r"<tr><td><a href=\"/en/review/([0-9a-f]+)\">(.*?)</tr>", page, re.S)
    return {uid: text_of(row) for uid, row in rows}


def status_text(teacher, uid: str) -> str:
    return text_of(teacher.get(f"{MINE}/{uid}").get_data(as_text=True))


# ---------------------------------------------------------------------------- the round trip


def test_a_resource_goes_up_is_accepted_and_comes_back_down_published(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    assert "Status: Ready to send" in status_text(teacher, uid)

    # School: the package, on the stick.
    package = world.package("a-1")
    result = export(world.school_a, package)
    assert result.exit_code == 0, result.output
    assert "1 submissions, 1 revisions, 0 withdrawals" in result.output
    assert "Status: Sent, waiting for the national team" in status_text(teacher, uid)

    # National: merged, then reviewed as it would be published.
    output = received(world.national, package)
    assert "École A de Zedville (zz): 1 new." in output
    editor = sign_in(world.national, EDITOR)
    assert "Le baobab et les fractions" in queue(editor)[uid]
    page = editor.get(f"/en/review/{uid}").get_data(as_text=True)
    assert "<mfrac>" in page and 'alt="Le baobab"' in page
    assert "By Awa Diop, École A de Zedville" in text_of(page)
    response = review(
        editor,
        uid,
        "accept",
        "Très belle ressource, merci !",
        title="Partager les fruits du baobab",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    row = national_row(world.national, uid)
    assert row["status"] == "accepted" and row["module"]
    module = row["module"]
    assert module.startswith("zz-contrib-partager-les-fruits-du-baobab-")
    # The module's history says who made its version, and from which submission.
    history = text_of(editor.get(f"/en/national/modules/{module}/history").get_data(as_text=True))
    assert f"Moussa Ba Accepted submission submission {uid}" in history

    # National -> school: the next bundle carries the module and the decision.
    install(world.school_a, build(world.national))

    reader = world.school_a.test_client()
    page = reader.get(f"/fr/modules/{module}/")
    assert page.status_code == 200
    text = MainText(page.get_data(as_text=True)).text
    assert "Partager les fruits du baobab" in text
    assert "Awa Diop (École A de Zedville)" in text  # the teacher credited
    lessons = re.findall(rf'href="(/fr/modules/{module}/[^"/.]+)"', page.get_data(as_text=True))
    lesson_page = reader.get(lessons[0]).get_data(as_text=True)
    assert "Le baobab du village" in lesson_page
    images = MainText(lesson_page).media
    assert images, "the lesson shows the teacher's picture"
    for url in images:
        assert reader.get(url).status_code == 200, url
    hits = reader.get("/api/v1/search", query_string={"q": "baobab"}).get_json()
    assert module in {hit["module"] for hit in hits["results"]}
    assert module in reader.get("/fr/zz/cm1/mathematiques/").get_data(as_text=True)

    text = status_text(teacher, uid)
    assert "Status: Accepted" in text
    assert "Message from the national team: Très belle ressource, merci !" in text
    # What the reviewer changed before publishing, shown to the teacher.
    assert (
        "What the national team changed before publishing Title "
        "Le baobab et les fractions → Partager les fruits du baobab"
    ) in text
    assert f'href="/en/modules/{module}/"' in teacher.get(f"{MINE}/{uid}").get_data(as_text=True)
    assert "Accepted" in text_of(teacher.get(MINE).get_data(as_text=True))

    result = export(world.school_a, world.package("a-2"))
    assert result.exit_code == 0 and NOTHING in result.output
    assert not world.package("a-2").exists()


def test_accepting_a_resource_retires_the_pages_stored_for_readers(world):
    # Accepting publishes a module in the review's transaction: the catalogue pages already
    # stored for readers of the national server must show it from that commit on.
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("a-1")))
    reader = world.national.test_client()
    listing = "/fr/zz/cm1/mathematiques/"
    first, stored = reader.get(listing), reader.get(listing)
    assert first.status_code == stored.status_code == 200
    assert stored.headers["ETag"] == first.headers["ETag"]
    assert "baobab" not in stored.get_data(as_text=True).lower()

    editor = sign_in(world.national, EDITOR)
    assert review(editor, uid, "accept", "Merci.").status_code == 302
    module = national_row(world.national, uid)["module"]

    after = reader.get(listing)
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    assert f"/fr/modules/{module}/" in after.get_data(as_text=True)
    assert "baobab" in reader.get(f"/fr/modules/{module}/").get_data(as_text=True).lower()


def school_key_file(school) -> Path:
    return Path(school.config["DATA_DIR"]) / "keys" / "school.key"


def test_a_school_key_is_made_only_when_the_school_asks_for_its_entry(world):
    entry = cli(world.school_a, "submissions", "key", "--country", "zz", "--name", "École A")
    assert entry.exit_code == 0 and entry.stderr == ""  # the key made at enrolment is kept
    key = school_key_file(world.school_a).read_bytes()

    school_key_file(world.school_a).unlink()  # lost before any package was sent
    uid = write(sign_in(world.school_a, TEACHER))
    refused = export(world.school_a, world.package("a-1"))
    assert refused.exit_code == 1
    assert "has no key at" in refused.output and "imaginecole submissions key" in refused.output
    assert not school_key_file(world.school_a).exists() and not world.package("a-1").exists()

    admin = sign_in(world.school_a, ADMIN)
    response = admin.post("/fr/admin/outbox", data={"country": "zz", "csrf_token": csrf(admin)})
    assert response.status_code == 302
    page = html.unescape(text_of(admin.get("/fr/admin/outbox").get_data(as_text=True)))
    assert "Ce serveur d'école n'a pas de clé pour signer ses paquets." in page
    assert "Le baobab et les fractions" in page  # still waiting, nothing marked as sent
    assert not school_key_file(world.school_a).exists()

    created = cli(world.school_a, "submissions", "key", "--country", "zz", "--name", "École A")
    assert created.exit_code == 0 and "Created this school server's key" in created.stderr
    assert school_key_file(world.school_a).read_bytes() != key
    assert list(sent_revisions(exported(world.school_a, world.package("a-1")))) == [uid]


def test_a_key_lost_after_packages_were_sent_is_not_replaced_silently(world):
    write(sign_in(world.school_a, TEACHER))
    exported(world.school_a, world.package("a-1"))
    school_key_file(world.school_a).unlink()

    refused = export(world.school_a, world.package("a-2"))
    assert refused.exit_code == 1 and "restore it from a backup" in refused.output
    again = cli(world.school_a, "submissions", "key", "--country", "zz", "--name", "École A")
    assert again.exit_code == 1 and "--new-key" in again.output
    assert not school_key_file(world.school_a).exists()

    admin = sign_in(world.school_a, ADMIN)
    admin.post("/ar/admin/outbox", data={"country": "zz", "csrf_token": csrf(admin)})
    page = html.unescape(text_of(admin.get("/ar/admin/outbox").get_data(as_text=True)))
    assert "استعده من النسخة الاحتياطية" in page

    replaced = cli(
        world.school_a, "submissions", "key", "--country", "zz", "--name", "École A", "--new-key"
    )
    assert replaced.exit_code == 0 and school_key_file(world.school_a).exists()


def test_the_outbox_and_package_pages_carry_the_same_work(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    admin = sign_in(world.school_a, ADMIN)
    page = admin.get("/en/admin/outbox").get_data(as_text=True)
    assert "Le baobab et les fractions — Awa Diop · Ready to send" in text_of(page)

    response = admin.post("/en/admin/outbox", data={"country": "zz", "csrf_token": csrf(admin)})

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        "attachment; filename=submissions-zz-"
    )
    package = world.package("from-page")
    package.write_bytes(response.data)
    assert list(sent_revisions(package)) == [uid]

    editor = sign_in(world.national, EDITOR)
    response = editor.post(
        "/en/review/packages",
        data={"package": (package.open("rb"), "paquet.icsub"), "csrf_token": csrf(editor)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    flashed = text_of(editor.get("/en/review/").get_data(as_text=True))
    assert (
        "Package from École A de Zedville merged: 1 new, 0 updated, 0 already received" in flashed
    )
    assert uid in queue(editor)


# ---------------------------------------------------------------------------- receiving twice


def test_receiving_a_package_again_says_already_received_and_adds_nothing(world):
    teacher = sign_in(world.school_a, TEACHER)
    write(teacher)
    package = exported(world.school_a, world.package("a"))
    received(world.national, package)
    before = rows(world.national), store_files(world.national)

    output = received(world.national, package)

    assert output.startswith(
        "Already received before; École A de Zedville (zz): 1 already received."
    )
    assert (rows(world.national), store_files(world.national)) == before

    editor = sign_in(world.national, EDITOR)
    response = editor.post(
        "/en/review/packages",
        data={"package": (package.open("rb"), "a.icsub"), "csrf_token": csrf(editor)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert "0 new, 0 updated, 1 already received, 0 in conflict" in text_of(
        editor.get("/en/review/").get_data(as_text=True)
    )
    assert rows(world.national) == before[0]


def flip(package: Path, position: int) -> Path:
    spoilt = package.with_name(f"{package.stem}-{position}.icsub")
    data = bytearray(package.read_bytes())
    data[position] ^= 0x01
    spoilt.write_bytes(bytes(data))
    return spoilt


def inside(package: Path, entry: str) -> int:
    """The position of the middle of ``entry``'s stored bytes in the package."""
    with zipfile.ZipFile(package) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith(entry))
    with package.open("rb") as stream:
        stream.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", stream.read(4))
    return info.header_offset + 30 + name_length + extra_length + info.compress_size // 2


def merge_page(app, email: str, package: Path, lang: str = "en"):
    editor = sign_in(app, email)
    return editor.post(
        f"/{lang}/review/packages",
        data={"package": (package.open("rb"), "paquet.icsub"), "csrf_token": csrf(editor)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "spoil", ["not enrolled", "manifest", "signature", "picture", "lesson text", "cut short"]
)
def test_a_package_that_fails_verification_changes_nothing(world, tmp_path, spoil):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("first")))
    # The second version brings a new text and a new picture: files the national server does
    # not hold yet, so it reads them from the package.
    response = post_form(
        teacher,
        f"{MINE}/{uid}/edit",
        lesson(title="Deuxième version", markdown="# Deux\n\n![Un puits](puits.jpg)\n",
               action="submit"),
        files=[(image_bytes(color=(10, 90, 200)), "puits.jpg")],
    )  # fmt: skip
    assert response.status_code == 302
    if spoil == "not enrolled":
        stranger = new_server(
            tmp_path / "school_c", [(TEACHER_C, "Kofi", "teacher", "zz", "École C")]
        )
        assert cli(stranger, "submissions", "key", "--country", "zz", "--name", "C").exit_code == 0
        write(sign_in(stranger, TEACHER_C))
        package = exported(stranger, world.package("c"))
    else:
        package = exported(world.school_a, world.package("spoilt"))
        revisions = manifest(package)["submissions"][0]["revisions"]
        revision = next(r for r in revisions if r["title"] == "Deuxième version")
        assert [f["name"] for f in revision["files"]] == ["puits.jpg"]
        picture, text = revision["files"][0]["sha256"], revision["markdown"]
        if spoil == "cut short":
            package.write_bytes(package.read_bytes()[:-200])
        else:
            entry = {
                "manifest": "manifest.json",
                "signature": "signature.json",
                "picture": f"blobs/{picture}",
                "lesson text": f"blobs/{text}",
            }[spoil]
            package = flip(package, inside(package, entry))
    before = rows(world.national), store_files(world.national)

    result = receive(world.national, package)

    assert result.exit_code == 1, result.output
    assert f"Error: {REFUSED}" in result.output and "Traceback" not in result.output
    assert (rows(world.national), store_files(world.national)) == before

    response = merge_page(world.national, EDITOR, package)
    assert response.status_code == 400
    page = text_of(response.get_data(as_text=True))
    assert "Package refused" in page and "Nothing was changed." in page
    assert (rows(world.national), store_files(world.national)) == before


def test_a_flipped_byte_anywhere_is_refused_or_changes_nothing_of_what_is_merged(world, tmp_path):
    write(sign_in(world.school_a, TEACHER))
    package = exported(world.school_a, world.package("a"))
    reference = copy_server(world.root / "national", tmp_path / "reference")
    received(reference, package)
    expected = state(reference)
    before = state(world.national)
    size = package.stat().st_size
    refused = 0

    # Bytes that neither the signature nor the hashes cover (a time or a size in a ZIP entry's
    # local header, which readers ignore) may change without harm: the content is the same.
    # Any other change must be refused.
    for position in range(7, size, max(1, size // 23)):
        result = receive(world.national, flip(package, position))
        if result.exit_code:
            refused += 1
            assert REFUSED in result.output and "Traceback" not in result.output
        assert state(world.national) in (before, expected), position
    assert refused >= 5
    assert "already received" in received(world.national, package)


def test_an_editor_of_another_country_cannot_merge_a_package(world):
    write(sign_in(world.school_a, TEACHER))
    package = exported(world.school_a, world.package("a"))
    # A neighbour country yy, with its own editor.
    assert not load_content(world.national, content_with_two_countries(world.root)).problems
    with world.national.app_context():
        create_user("aya@education.yy", "Aya", "correct horse battery", "editor", "yy")
        db.session.commit()
    fast_passwords(world.national)
    before = rows(world.national), store_files(world.national)

    response = merge_page(world.national, "aya@education.yy", package)

    assert response.status_code == 400
    assert "only that country" in response.get_data(as_text=True)
    assert (rows(world.national), store_files(world.national)) == before
    # In the reader's language, and without naming the other country's school.
    page = text_of(merge_page(world.national, "aya@education.yy", package, "fr").get_data(True))
    assert "d&#39;un autre pays : seule l&#39;équipe de ce pays peut le fusionner" in page
    assert "only that country" not in page
    assert "Zedville" not in page and "zz" not in page.split()
    assert merge_page(world.national, EDITOR, package).status_code == 302


# ---------------------------------------------------------------------------- merge rules


def edit_sorting_first(teacher, app, uid: str, base: str) -> str:
    """Edit ``uid`` with a title chosen so that the new revision's uid sorts before its parent's.

    The library merges a package's revisions in the order of their uids; an edit that sorts
    first is the case where storing them in that order would put the child before its parent.
    """
    with app.app_context():
        latest = db.session.scalar(select(Submission).filter_by(uid=uid)).latest
        fields = dict(
            summary=latest.summary, language=latest.language, levels=list(latest.levels),
            subject=latest.subject, competencies=list(latest.competencies),
            licence=latest.licence, markdown=latest.markdown,
            files=[FileRef(**f) for f in latest.files], created="2030-01-01T00:00:00Z",
        )  # fmt: skip
        parent = latest.uid
    # Each try sorts first with the chance of the parent's uid sorting late: a parent whose uid
    # starts with "00" needs hundreds of tries, so allow many (each is one hash).
    for number in range(20_000):
        title = f"{base} ({number})"
        if make_revision(uid, parent, title=title, **fields).uid < parent:
            edit(teacher, app, uid, title=title)
            assert revision_uids(app, uid)[-1] < parent
            return title
    raise AssertionError("no title found")


def test_packages_merged_in_either_order_give_the_same_state(world, tmp_path):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    p1 = exported(world.school_a, world.package("p1"))
    title = edit_sorting_first(teacher, world.school_a, uid, "Le baobab, version revue")
    p2 = exported(world.school_a, world.package("p2"))
    first, second = revision_uids(world.school_a, uid)
    assert sent_revisions(p1) == {uid: [first]}
    assert sorted(sent_revisions(p2)[uid]) == sorted([first, second])  # the stick may be lost
    x = world.national
    y = copy_server(world.root / "national", tmp_path / "national_y")

    received(x, p1)
    assert "1 updated" in received(x, p2)
    received(y, p2)
    assert "1 already received" in received(y, p1)

    assert state(x, shown=False) == state(y, shown=False)
    row = state(x)["submissions"][uid]
    assert len(row["revisions"]) == 2 and not row["conflict"] and row["status"] == "received"
    # The reviewer sees the newest revision, whichever package came first.
    assert national_row(x, uid)["shown"] == (second, title)
    assert national_row(y, uid)["shown"] == (second, title)
    assert state(x) == state(y)
    for national in (x, y):
        assert title in queue(sign_in(national, EDITOR))[uid]


def two_edits_from_one_parent(world, tmp_path):
    """School A's teacher edits the same revision on two copies of the school server."""
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    other = write(teacher, title="Une autre ressource sans histoire")
    settle(world.school_a)
    restored = copy_server(world.root / "school_a", tmp_path / "school_a_restored")
    edit(teacher, world.school_a, uid, title="Version de la salle 1")
    edit(sign_in(restored, TEACHER), restored, uid, title="Version de la salle 2")
    pa = exported(world.school_a, world.package("salle-1"))
    pb = exported(restored, world.package("salle-2"))
    return uid, other, pa, pb


def test_two_edits_from_the_same_parent_are_both_kept_and_flagged(world, tmp_path):
    uid, other, pa, pb = two_edits_from_one_parent(world, tmp_path)
    y = copy_server(world.root / "national", tmp_path / "national_y")

    received(world.national, pa)
    assert "1 in conflict" not in received(world.national, pa)
    output = received(world.national, pb)
    assert "conflict" in output
    received(y, pb)
    received(y, pa)

    assert state(world.national, shown=False) == state(y, shown=False)
    row = national_row(world.national, uid)
    assert row["conflict"] and len(row["revisions"]) == 3
    assert {r[3] for r in row["revisions"]} >= {"Version de la salle 1", "Version de la salle 2"}
    assert not national_row(world.national, other)["conflict"]
    editor = sign_in(world.national, EDITOR)
    everything = queue(editor)
    conflicts = queue(editor, "?status=received&flag=conflict")
    assert set(everything) == {uid, other}
    assert list(conflicts) == [uid] and "conflict" in conflicts[uid]
    page = text_of(editor.get(f"/en/review/{uid}").get_data(as_text=True))
    assert "Conflict: the teacher edited two versions from the same starting point." in page
    assert "Version de la salle 1" in page and "Version de la salle 2" in page


def test_in_a_conflict_the_revision_shown_does_not_depend_on_the_order(world, tmp_path):
    uid, _other, pa, pb = two_edits_from_one_parent(world, tmp_path)
    y = copy_server(world.root / "national", tmp_path / "national_y")
    received(world.national, pa)
    received(world.national, pb)
    received(y, pb)
    received(y, pa)
    assert national_row(world.national, uid)["shown"] == national_row(y, uid)["shown"]


def test_the_same_content_from_two_schools_is_flagged_duplicate(world, tmp_path):
    a = write(sign_in(world.school_a, TEACHER))
    b = write(sign_in(world.school_b, TEACHER_B))
    pa = exported(world.school_a, world.package("a"))
    pb = exported(world.school_b, world.package("b"))
    y = copy_server(world.root / "national", tmp_path / "national_y")

    received(world.national, pa)
    received(world.national, pb)
    received(y, pb)
    received(y, pa)

    assert state(world.national) == state(y)
    first, second = sorted([a, b])  # the smaller uid is the original, whatever arrived first
    assert national_row(world.national, first)["duplicate_of"] is None
    assert national_row(world.national, second)["duplicate_of"] == first
    editor = sign_in(world.national, EDITOR)
    duplicates = queue(editor, "?status=received&flag=duplicate")
    assert list(duplicates) == [second] and "duplicate" in duplicates[second]
    assert set(queue(editor)) == {a, b}
    page = editor.get(f"/en/review/{second}").get_data(as_text=True)
    assert "Duplicate: the same content was already received" in page
    assert f'href="/en/review/{first}"' in page
    schools = {national_row(world.national, u)["school"][1] for u in (a, b)}
    assert schools == {"École A de Zedville", "École B de Zedbourg"}


def test_a_request_for_changes_travels_back_and_only_the_new_revision_goes_up(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("1")))
    editor = sign_in(world.national, EDITOR)
    assert review(editor, uid, "changes").status_code == 400  # a reason is required
    response = review(
        editor, uid, "changes", "Ajoutez un exercice <b>corrigé</b>, s'il vous plaît."
    )
    assert response.status_code == 302
    assert national_row(world.national, uid)["status"] == "changes_requested"

    install(world.school_a, build(world.national))

    page = teacher.get(f"{MINE}/{uid}").get_data(as_text=True)
    assert "Status: Changes requested" in text_of(page)
    assert "Ajoutez un exercice &lt;b&gt;corrigé&lt;/b&gt;, s&#39;il vous plaît." in page
    assert "received by the national team" in text_of(page)
    result = export(world.school_a, world.package("nothing"))
    assert NOTHING in result.output  # nothing new until the teacher answers

    first = revision_uids(world.school_a, uid)[0]
    edit(teacher, world.school_a, uid, action="save", markdown="# Avec un exercice\n\nExercice.\n")
    assert "Status: Draft" in status_text(teacher, uid)
    assert NOTHING in export(world.school_a, world.package("draft")).output
    edit(teacher, world.school_a, uid, action="submit")
    package = exported(world.school_a, world.package("2"))

    second = revision_uids(world.school_a, uid)[-1]
    assert sent_revisions(package) == {uid: [second]}
    assert manifest(package)["submissions"][0]["revisions"][0]["parent_uid"] == first
    output = received(world.national, package)
    assert "1 updated" in output
    row = national_row(world.national, uid)
    assert row["status"] == "received" and len(row["revisions"]) == 2 and not row["conflict"]
    assert row["shown"][0] == second
    assert uid in queue(editor)


def test_a_rejection_travels_back_with_its_reason(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("1")))
    editor = sign_in(world.national, EDITOR)
    assert review(editor, uid, "reject", "Hors programme.").status_code == 302

    install(world.school_a, build(world.national))

    text = status_text(teacher, uid)
    assert "Status: Rejected" in text and "Hors programme." in text
    assert f"{MINE}/{uid}/edit" not in teacher.get(f"{MINE}/{uid}").get_data(as_text=True)


def test_who_sent_it_comes_from_the_enrolment_and_odd_names_are_escaped(world):
    odd = '<img src=x onerror=alert(1)> Awa "la reine" & Cie'
    with world.school_a.app_context():
        user = db.session.scalar(select(User).filter_by(email=TEACHER))
        user.name, user.school = odd, "<b>École inventée</b>"
        db.session.commit()
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    package = exported(world.school_a, world.package("a"))
    assert manifest(package)["submissions"][0]["teacher_name"] == odd
    key_id = manifest(package)["school_key_id"]

    received(world.national, package)

    row = national_row(world.national, uid)
    assert row["country"] == "zz"
    assert row["school"] == (key_id, "École A de Zedville")  # the enrolment's name
    assert row["teacher"][0].startswith(f"{key_id}:")
    assert row["teacher"][1] == odd  # kept as written, for people to read
    editor = sign_in(world.national, EDITOR)
    for url in ("/en/review/", f"/en/review/{uid}"):
        page = editor.get(url).get_data(as_text=True)
        assert "<img src=x" not in page
        assert "&lt;img src=x onerror=alert(1)&gt; Awa &#34;la reine&#34; &amp; Cie" in page
        assert "École A de Zedville" in page and "inventée" not in page

    # Published, the name is credited as written, and shown as text on the schools' pages.
    assert review(editor, uid, "accept", "Merci.").status_code == 302
    install(world.school_b, build(world.national))
    module = national_row(world.national, uid)["module"]
    page = world.school_b.test_client().get(f"/fr/modules/{module}/").get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; Awa" in page
    assert "(École A de Zedville)" in page


def test_a_lost_stick_loses_nothing(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    other = write(teacher, title="Le cycle de l'eau au village", subject="sciences",
                  competencies=["ZZ-SCI-1"])  # fmt: skip
    lost = exported(world.school_a, world.package("lost"))
    sent, files = sent_revisions(lost), manifest(lost)["files"]
    lost.unlink()  # the stick never reaches the capital

    again = exported(world.school_a, world.package("again"))

    assert sent_revisions(again) == sent
    assert set(sent) == {uid, other}
    assert manifest(again)["files"] == files
    output = received(world.national, again)
    assert "2 new" in output
    for submission in (uid, other):
        assert national_row(world.national, submission)["status"] == "received"
    # Until the national server's answer arrives, the work keeps going out.
    third = exported(world.school_a, world.package("third"))
    assert sent_revisions(third) == sent
    assert "2 already received" in received(world.national, third)
    install(world.school_a, build(world.national))
    assert NOTHING in export(world.school_a, world.package("fourth")).output
    assert "Status: Received by the national team" in status_text(teacher, uid)


def test_a_withdrawal_travels_up(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("1")))
    teacher.post(f"{MINE}/{uid}/withdraw", data={"csrf_token": csrf(teacher)})

    package = exported(world.school_a, world.package("2"))

    assert manifest(package)["submissions"][0]["withdrawn"] is True
    assert sent_revisions(package) == {uid: []}
    received(world.national, package)
    assert national_row(world.national, uid)["status"] == "withdrawn"
    editor = sign_in(world.national, EDITOR)
    assert uid not in queue(editor)
    assert uid in queue(editor, "?status=withdrawn")
    page = editor.get(f"/en/review/{uid}").get_data(as_text=True)
    assert "Record the decision" not in page


def test_a_draft_never_leaves_the_school(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid_from(post_form(teacher, NEW, lesson(title="Brouillon secret")))
    assert NOTHING in export(world.school_a, world.package("x")).output


def test_a_review_needs_every_score_and_a_decision(world):
    uid = write(sign_in(world.school_a, TEACHER))
    received(world.national, exported(world.school_a, world.package("1")))
    editor = sign_in(world.national, EDITOR)

    response = editor.post(
        f"/en/review/{uid}",
        data={"csrf_token": csrf(editor), "score_accuracy": "9", "comment": "Bien."},
    )

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count('<p class="error">This field is required.</p>') == len(RUBRIC) + 1
    assert ">Bien.</textarea>" in page  # the comment is kept
    assert national_row(world.national, uid)["status"] == "received"


def test_the_reviewer_sees_the_pictures(world):
    uid = write(sign_in(world.school_a, TEACHER))
    received(world.national, exported(world.school_a, world.package("1")))
    editor = sign_in(world.national, EDITOR)
    page = editor.get(f"/en/review/{uid}").get_data(as_text=True)
    images = re.findall(r'<img src="(/media/[^"]+)"', page)
    assert images
    for url in images:
        assert editor.get(url).status_code == 200


def test_a_withdrawal_whose_work_never_arrived(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    lost = exported(world.school_a, world.package("lost"))  # the stick is lost, for a while
    teacher.post(f"{MINE}/{uid}/withdraw", data={"csrf_token": csrf(teacher)})
    package = exported(world.school_a, world.package("withdrawal"))
    assert sent_revisions(package) == {uid: []}

    received(world.national, package)

    editor = sign_in(world.national, EDITOR)
    for query in ("", "?status=withdrawn", "?status=all"):
        response = editor.get(f"/en/review/{query}")
        assert response.status_code == 200, query
        assert uid not in response.get_data(as_text=True)
    assert editor.get(f"/en/review/{uid}").status_code == 404

    # The stick turns up: the work arrives, and stays withdrawn.
    assert "1 updated" in received(world.national, lost)
    assert national_row(world.national, uid)["status"] == "withdrawn"
    assert uid in queue(editor, "?status=withdrawn")
    assert uid not in queue(editor)
    assert editor.get(f"/en/review/{uid}").status_code == 200


def test_a_resource_titled_in_arabic_is_published_and_reaches_the_schools(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher, title="الكسور في السوق", language="ar")
    received(world.national, exported(world.school_a, world.package("1")))
    editor = sign_in(world.national, EDITOR)
    assert review(editor, uid, "accept", "شكرا").status_code == 302
    module = national_row(world.national, uid)["module"]
    assert MODULE_ID.match(module), module

    install(world.school_a, build(world.national))  # refused by the school if an id is bad

    page = world.school_a.test_client().get(f"/ar/modules/{module}/")
    assert page.status_code == 200
    assert "الكسور في السوق" in page.get_data(as_text=True)
    assert "Status: Accepted" in status_text(teacher, uid)


@pytest.mark.parametrize(
    "uid, title",
    [
        ("0123456789abcdef0123456789abcdef", "الكسور"),
        ("ab_cd-ef_0123456789", "Les fractions"),
        ("________________", "???"),
        ("-_-_-_-_-_-_-_-_", "Ça, c'est « l'été » !"),
    ],
)
def test_module_ids_of_accepted_resources_are_valid_module_ids(uid, title):
    from imaginecole.review.operations import module_id_for

    module = module_id_for(Submission(uid=uid, country_code="zz"), title)
    assert MODULE_ID.match(module), module
    assert module.startswith("zz-contrib-")


def test_a_withdrawal_the_national_server_has_is_not_sent_again(world):
    teacher = sign_in(world.school_a, TEACHER)
    uid = write(teacher)
    received(world.national, exported(world.school_a, world.package("1")))
    teacher.post(f"{MINE}/{uid}/withdraw", data={"csrf_token": csrf(teacher)})
    received(world.national, exported(world.school_a, world.package("2")))
    install(world.school_a, build(world.national))

    assert NOTHING in export(world.school_a, world.package("3")).output


def test_two_enrolments_of_the_same_schools_at_once_both_succeed(templates, tmp_path):
    national = new_server(tmp_path / "national")
    command = [sys.executable, "-m", "imaginecole", "submissions", "enroll"]
    enrolments = [
        subprocess.Popen(
            [*command, str(templates / "enrolment.toml")],
            env=subprocess_env(national),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [enrolment.communicate(timeout=120) for enrolment in enrolments]

    for enrolment, (out, err) in zip(enrolments, outputs, strict=True):
        assert enrolment.returncode == 0, err
        assert out.count("Enrolled ") == 2 and "Traceback" not in out + err
    with national.app_context():
        assert len(db.session.scalars(select(EnrolledSchool)).all()) == 2


# ---------------------------------------------------------------------------- exercises

EXERCISE_MARKDOWN = (
    "# Le baobab et les fractions\n\n```exercice\nOn partage 12 fruits en 4 parts égales. "
    "Combien de fruits dans une part ?\nréponse: 3\nunité: fruits\n"
    "explication: 12 : 4 = 3 fruits.\n```\n"
)


def test_the_reviewer_sees_the_exercise_with_its_correction(world):
    teacher = sign_in(world.school_a, TEACHER)
    submitted = post_form(teacher, NEW, lesson(markdown=EXERCISE_MARKDOWN, action="submit"))
    uid = submitted.headers["Location"].rsplit("/", 1)[-1]
    package = world.package("a-1")
    assert export(world.school_a, package).exit_code == 0
    received(world.national, package)

    editor = sign_in(world.national, EDITOR)
    page = editor.get(f"/en/review/{uid}").get_data(as_text=True)

    assert "On partage 12 fruits en 4 parts égales." in page
    assert '<div class="exercise-correction">' in page and "12 : 4 = 3 fruits." in page
    assert "3 fruits" in page
    assert 'name="answer"' not in page  # a worksheet to read, not a form to answer
