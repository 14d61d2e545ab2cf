"""Exports from signed bundles on a laptop: no server, no settings, nothing left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from imaginecole import __main__ as entry
from sync.container.keys import generate_key_files, load_public_key, trust_entry_toml
from tests.conftest import REPO_ROOT, TEST_CONTENT, load_content, make_app
from tests.imaginecole.bundles.test_operations import module_dir, set_version
from tests.sync.bundle.test_support import read_entries, rewrite

NOT_CHECKED = "This key was NOT checked against a trusted key"
# Where a real national server might be: the export must not go near it.
ELSEWHERE = "postgresql+psycopg://imaginecole:secret@192.0.2.1:5432/imaginecole"


@dataclass
class National:
    data: Path
    booklets: Path  # what the national server's own database exports

    def bundle(self, version: int) -> Path:
        return self.data / "bundles" / f"zz-main-v{version}.icb"

    @property
    def public_key(self) -> Path:
        return self.data / "keys" / "publisher.pub"


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> National:
    """A national server that built v1 (full) and v2 (a delta: one lesson edited)."""
    root = tmp_path_factory.mktemp("national-export")
    content = root / "content"
    shutil.copytree(TEST_CONTENT, content)
    app = make_app(root / "data")
    runner = app.test_cli_runner()
    assert not load_content(app, content).problems
    assert runner.invoke(args=["keys", "generate"]).exit_code == 0
    assert runner.invoke(args=["bundle", "build", "--country", "zz"]).exit_code == 0
    lesson = module_dir(content, "zz-sciences-eau") / "01-evaporation.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nLe brouillard se lève.\n", encoding="utf-8")
    set_version(content, "zz-sciences-eau", 2)
    assert not load_content(app, content).problems
    built = runner.invoke(args=["bundle", "build", "--country", "zz", "--since", "1"])
    assert built.exit_code == 0, built.output
    booklets = root / "booklets"
    exported = runner.invoke(
        args=["export", "booklets", "--country", "zz", "--language", "ar", "--out", str(booklets)]
    )
    assert exported.exit_code == 0, exported.output
    return National(root / "data", booklets)


def trust_file(path: Path, public_key: Path, countries=("zz",)) -> Path:
    entry = trust_entry_toml(load_public_key(public_key), list(countries), "Zedland")
    path.write_text("format = 1\n\n" + entry, encoding="utf-8")
    return path


def clean_environment(temp: Path) -> dict[str, str]:
    """The environment of a laptop with no Imaginecole settings, but a stray database URL."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env.update(PYTHONPATH=str(REPO_ROOT), TMPDIR=str(temp), IMAGINECOLE_DATABASE_URL=ELSEWHERE)
    return env


def test_a_laptop_exports_the_booklets_the_national_server_would(national, tmp_path):
    temp, cwd, out = tmp_path / "temp", tmp_path / "somewhere", tmp_path / "out"
    temp.mkdir(), cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "imaginecole", "export", "booklets", "--country", "zz"]
        + ["--language", "ar", "--out", str(out)]
        + ["--bundle", str(national.bundle(2)), "--bundle", str(national.bundle(1))],
        env=clean_environment(temp),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in national.booklets.iterdir()
    )
    for path in national.booklets.iterdir():  # v1 then its update: what the national server has
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name
    fingerprint = load_public_key(national.public_key).key_id
    assert f"signed by key {fingerprint}, fingerprint " in done.stderr
    assert NOT_CHECKED in done.stderr
    assert "Opening zz main v1" in done.stderr and "Opening zz main v2" in done.stderr
    assert done.stdout.startswith("Wrote 4 booklet(s)")
    assert list(cwd.iterdir()) == [] and list(temp.iterdir()) == []


def export(args: list[str], tmp_path: Path, monkeypatch):
    """Run ``imaginecole export booklets`` as a person would, with no settings, in-process."""
    temp = tmp_path / "temp"
    temp.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    env = {name: None for name in os.environ if name.startswith("IMAGINECOLE_")}
    env["IMAGINECOLE_DATABASE_URL"] = ELSEWHERE
    out = tmp_path / "out"
    result = CliRunner().invoke(
        entry.cli,
        ["export", "booklets", "--country", "zz", "--out", str(out), *args],
        prog_name="imaginecole",
        env=env,
    )
    assert list(temp.iterdir()) == [], "the throwaway instance was left behind"
    return result, out


def test_a_trust_file_checks_the_signer_and_a_folder_holds_the_bundles(
    national, tmp_path, monkeypatch
):
    trust = trust_file(tmp_path / "trust.toml", national.public_key)
    result, out = export(
        ["--bundle", str(national.bundle(1).parent), "--trust", str(trust), "--level", "CM1"],
        tmp_path,
        monkeypatch,
    )

    assert result.exit_code == 0, result.output
    assert NOT_CHECKED not in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "cm1-mathematiques-fr.html",
        "cm1-sciences-fr.html",
    ]
    assert "Le brouillard se lève." in (out / "cm1-sciences-fr.html").read_text("utf-8")


def tampered(national: National, path: Path) -> Path:
    entries = {info.filename: data for info, data in read_entries(national.bundle(1))}
    manifest = entries["manifest.json"].replace(b'"zz-maths-fractions"', b'"zz-maths-fractionz"')
    return rewrite(national.bundle(1), path, replace={"manifest.json": manifest})


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered", "refused: "),
        ("untrusted", "is not in this server's trust file"),
        ("delta alone", "is an update of zz main v1: give that version's bundle too"),
        ("missing", "no such file or folder"),
        ("empty folder", "No bundle (*.icb) in"),
        ("bad trust file", "cannot be used"),
    ],
)
def test_a_bundle_that_cannot_be_used_is_refused_with_a_clear_message(
    national, tmp_path, monkeypatch, case, message
):
    args = {
        "tampered": lambda: ["--bundle", str(tampered(national, tmp_path / "zz-main-v1.icb"))],
        "untrusted": lambda: [
            "--bundle",
            str(national.bundle(1)),
            "--trust",
            str(
                trust_file(
                    tmp_path / "trust.toml",
                    generate_key_files(tmp_path / "keys", "other").public_path,
                )
            ),
        ],
        "delta alone": lambda: ["--bundle", str(national.bundle(2))],
        "missing": lambda: ["--bundle", str(tmp_path / "nowhere.icb")],
        "empty folder": lambda: ["--bundle", str(tmp_path)],
        "bad trust file": lambda: [
            "--bundle",
            str(national.bundle(1)),
            "--trust",
            str(national.bundle(1)),
        ],
    }[case]()

    result, out = export(args, tmp_path, monkeypatch)

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "secret" not in result.output
    assert not out.exists()


def test_a_laptop_exports_a_site_from_bundles_too(national, tmp_path, monkeypatch):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    env = {name: None for name in os.environ if name.startswith("IMAGINECOLE_")}
    env["IMAGINECOLE_DATABASE_URL"] = ELSEWHERE
    out = tmp_path / "site"
    result = CliRunner().invoke(
        entry.cli,
        ["export", "site", "--country", "zz", "--language", "fr", "--out", str(out)]
        + ["--bundle", str(national.bundle(1)), "--bundle", str(national.bundle(2))],
        prog_name="imaginecole",
        env=env,
    )

    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    pages = "".join(p.read_text("utf-8") for p in out.rglob("*.html"))
    assert "Le brouillard se lève." in pages  # the update (v2) is in the site
    assert list(temp.iterdir()) == []


def test_a_site_holds_one_language(national, tmp_path):
    result = CliRunner().invoke(
        entry.cli,
        ["export", "site", "--country", "zz", "--language", "fr", "--language", "ar"]
        + ["--out", str(tmp_path / "site"), "--bundle", str(national.bundle(1))],
        prog_name="imaginecole",
    )
    assert result.exit_code == 2
    assert "A site holds one language: give --language once." in result.output
