"""``imaginecole backup`` and ``restore``: one archive that brings a whole server back."""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import authenticate, create_user
from imaginecole.backups.operations import FORMAT, MANIFEST
from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.submissions.models import Submission
from imaginecole.submissions.operations import SubmissionForm, create_submission
from sync.container.keys import generate_key_files
from tests.conftest import load_content, make_app

PASSWORD = "correct horse battery"
LESSON = "/fr/modules/zz-maths-fractions/lire-une-fraction"
TRUST = "# Keys this server accepts bundles from.\nformat = 1\n"


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def server(app):
    """A server with content, a teacher, a submission, its keys and its trust file."""
    load_content(app)
    with app.app_context():
        teacher = create_user("awa@example.org", "Awa Diop", PASSWORD, "teacher", "zz")
        form = SubmissionForm(
            title="Le baobab",
            summary="Partager les fruits du baobab.",
            levels=["CM1"],
            subject="mathematiques",
            licence="CC-BY-SA-4.0",
            markdown="# Le baobab\n\nUn quart des fruits.",
        )
        create_submission(teacher, form)
        db.session.commit()
    data_dir = Path(app.config["DATA_DIR"])
    generate_key_files(data_dir / "keys", "publisher")
    generate_key_files(data_dir / "keys", "school")
    (data_dir / "trust.toml").write_text(TRUST, encoding="utf-8")
    (data_dir / "trust-accepted.toml").write_text(TRUST, encoding="utf-8")  # as after an import
    return app


@pytest.fixture
def archive(server, tmp_path) -> Path:
    path = tmp_path / "stick" / "school.backup"
    result = run(server, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Backed up the" in result.output
    return path


@pytest.fixture
def new_server(tmp_path):
    """An empty server on another data directory (and, on PostgreSQL, another database)."""
    return make_app(tmp_path / "new-machine")


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Submission, Module)
        }


def files_of(app) -> dict[str, bytes]:
    """Return the files of a data directory, by relative name; not the database nor the index.

    SQLite's own files change when the database is only read (its WAL is checkpointed); what
    the database holds is compared through ``counts``.
    """
    root = Path(app.config["DATA_DIR"])
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
        and "search" not in path.relative_to(root).parts
        and not path.name.startswith("imaginecole.sqlite3")
    }


def test_restore_on_a_new_machine_brings_everything_back(server, archive, new_server):
    result = run(new_server, "restore", str(archive))

    assert result.exit_code == 0, result.output
    assert "Restored the" in result.output and "keys/school.key" in result.output
    restored = counts(new_server)
    assert restored == counts(server)
    assert f"{restored['User']} accounts, {restored['Module']} modules" in result.output
    with new_server.app_context():
        assert authenticate("awa@example.org", PASSWORD, "127.0.0.1").user is not None
        assert db.session.scalar(select(Submission.teacher_name)) == "Awa Diop"
    old, new = Path(server.config["DATA_DIR"]), Path(new_server.config["DATA_DIR"])
    for name in ("keys/publisher.key", "keys/school.key", "trust.toml", "trust-accepted.toml"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
    # The session secret stays on the old machine: the new one keeps its own.
    assert (new / "secret_key").read_text() != (old / "secret_key").read_text()

    client = new_server.test_client()
    page = client.get(LESSON)
    assert page.status_code == 200
    images = re.findall(r'src="(/media/[^"]+)"', page.get_data(as_text=True))
    assert images
    for image in images:
        assert client.get(image).status_code == 200, image
    search = client.get("/fr/search?q=fraction")  # the index was rebuilt from the database
    assert "zz-maths-fractions" in search.get_data(as_text=True)


def test_the_archive_lists_every_file_with_its_hash_and_no_secret(server, archive):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())
        settings = json.loads(tar.extractfile("settings.json").read())
    assert manifest["format"] == FORMAT
    assert manifest["database"] in ("sqlite", "postgresql")
    assert set(names) == set(manifest["files"]) | {MANIFEST}
    assert any(name.startswith("blobs/") for name in names)
    assert "secret_key" not in names
    assert "SECRET_KEY" not in settings and "DATABASE_URL" not in settings
    assert archive.stat().st_mode & 0o077 == 0  # it holds private keys
    password = make_url(server.config["SQLALCHEMY_DATABASE_URI"]).password
    if password:
        assert password.encode() not in archive.read_bytes()


def test_restore_refuses_a_server_that_has_data_unless_forced(server, archive):
    with server.app_context():
        create_user("late@example.org", "Late", PASSWORD, "teacher", "zz")
        db.session.commit()

    refused = run(server, "restore", str(archive))
    assert refused.exit_code == 1
    assert "already has data" in refused.output
    assert counts(server)["User"] == 2

    forced = run(server, "restore", str(archive), "--force")
    assert forced.exit_code == 0, forced.output
    assert counts(server)["User"] == 1


def spoiled(archive: Path, member: str, tmp_path: Path) -> Path:
    """Return a copy of ``archive`` with one byte of ``member`` changed."""
    target = tmp_path / f"spoiled-{member.replace('/', '-')}.backup"
    with tarfile.open(archive) as source, tarfile.open(target, "w") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            if info.name == member:
                data = bytes([data[0] ^ 1]) + data[1:]
            out.addfile(info, io.BytesIO(data))
    return target


@pytest.mark.parametrize("which", ["blob", "database", "keys/school.key"])
def test_a_corrupted_archive_is_refused_with_nothing_changed(archive, new_server, tmp_path, which):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    member = {
        "blob": next(name for name in names if name.startswith("blobs/")),
        "database": next(name for name in names if name.startswith("database/")),
    }.get(which, which)
    before = files_of(new_server), counts(new_server)

    result = run(new_server, "restore", str(spoiled(archive, member, tmp_path)))

    assert result.exit_code == 1
    assert f"{member} does not match its manifest" in result.output
    assert (files_of(new_server), counts(new_server)) == before


def test_an_archive_of_a_newer_format_is_refused(archive, new_server, tmp_path):
    newer = tmp_path / "newer.backup"
    with tarfile.open(archive) as source, tarfile.open(newer, "w") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            if info.name == MANIFEST:
                data = json.dumps({**json.loads(data), "format": FORMAT + 1}).encode()
                info.size = len(data)
            out.addfile(info, io.BytesIO(data))

    result = run(new_server, "restore", str(newer))

    assert result.exit_code == 1
    assert f"format {FORMAT + 1}" in result.output and f"format {FORMAT} only" in result.output
    assert counts(new_server)["Module"] == 0


def test_a_file_that_is_no_archive_is_refused(new_server, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a backup")

    result = run(new_server, "restore", str(path))

    assert result.exit_code == 1
    assert "is not a backup archive" in result.output


def test_backup_never_overwrites_a_file(server, archive):
    result = run(server, "backup", str(archive))

    assert result.exit_code == 1
    assert "already exists" in result.output


def test_a_backup_taken_while_another_thread_writes_is_consistent(server, tmp_path, new_server):
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        with server.app_context():
            number = 0
            while not stop.is_set():
                create_user(f"t{number}@example.org", f"T {number}", PASSWORD, "teacher", "zz")
                db.session.commit()
                written.append(number)
                number += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 3:
            stop.wait(0.01)
        result = run(server, "backup", str(tmp_path / "busy.backup"))
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert len(written) > 3  # the writer kept going during the backup

    result = run(new_server, "restore", str(tmp_path / "busy.backup"))

    assert result.exit_code == 0, result.output
    with new_server.app_context():
        emails = set(db.session.scalars(select(User.email)))
    restored = {int(e[1:].split("@")[0]) for e in emails if re.fullmatch(r"t\d+@example.org", e)}
    # A snapshot: every account committed before some moment, none after it.
    assert restored == set(range(len(restored)))
    assert 3 <= len(restored) <= len(written)
