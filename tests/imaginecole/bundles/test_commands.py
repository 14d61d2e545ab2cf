"""The `imaginecole bundle` commands: what they print, and how they refuse a bad bundle."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from imaginecole.app import create_app
from imaginecole.bundles.models import BuiltBundle
from imaginecole.extensions import db
from sync.bundle import load_public_key
from tests.conftest import (
    REPO_ROOT,
    TEST_CONTENT,
    database_config,
    give_signing_key,
    load_content,
    make_app,
)
from tests.imaginecole.bundles.test_operations import (
    Snapshot,
    history,
    module_dir,
    search,
    set_version,
    subprocess_env,
    trust,
)

BUILT = re.compile(
    r"Built (?P<path>\S+): zz main v(?P<version>\d+) \((?P<kind>full|delta from v\d+)\), "
    r"(?P<modules>\d+) modules, [\d.]+ MB, key (?P<key>[0-9a-f]{16})"
)
REFUSED = "Bundle refused, nothing was changed: "


@dataclass
class National:
    app: object
    data: Path
    outputs: dict[int, str]
    manifests: dict[int, dict]

    @property
    def public_key_path(self) -> Path:
        return self.data / "keys" / "publisher.pub"

    def bundle(self, version: int) -> Path:
        return self.data / "bundles" / f"zz-main-v{version}.icb"


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> National:
    """A national server that built v1 (full) then v2 (a delta: one lesson edited) with the CLI."""
    root = tmp_path_factory.mktemp("national-cli")
    content = root / "content"
    shutil.copytree(TEST_CONTENT, content)
    app = make_app(root / "data")
    assert not load_content(app, content).problems
    runner = app.test_cli_runner()
    generated = runner.invoke(args=["keys", "generate"])
    assert generated.exit_code == 0, generated.output
    outputs = {1: runner.invoke(args=["bundle", "build", "--country", "zz"])}
    lesson = module_dir(content, "zz-sciences-eau") / "01-evaporation.md"
    lesson.write_text(lesson.read_text("utf-8") + "\nLe brouillard se lève.\n", encoding="utf-8")
    set_version(content, "zz-sciences-eau", 2)
    assert not load_content(app, content).problems
    outputs[2] = runner.invoke(args=["bundle", "build", "--country", "zz", "--since", "1"])
    for result in outputs.values():
        assert result.exit_code == 0, result.output
    with app.app_context():
        manifests = {
            row.version: json.loads(row.manifest)
            for row in db.session.scalars(db.select(BuiltBundle))
        }
    return National(app, root / "data", {n: r.output for n, r in outputs.items()}, manifests)


@pytest.fixture
def school(tmp_path, national):
    app = make_app(tmp_path / "school")
    trust(app, national)
    return app


def invoke(app, *args: str, **kwargs):
    return app.test_cli_runner().invoke(args=["bundle", *args], **kwargs)


def assert_refused(result) -> None:
    """A refusal is a message and a non-zero exit, never a traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"Error: {REFUSED}" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------- build


def test_build_names_the_file_version_kind_and_module_count(national):
    key_id = load_public_key(national.public_key_path).key_id
    full = BUILT.search(national.outputs[1])
    delta = BUILT.search(national.outputs[2])

    assert full and delta, national.outputs
    assert (full["version"], full["kind"], full["modules"], full["key"]) == (
        "1",
        "full",
        "3",
        key_id,
    )
    assert (delta["version"], delta["kind"], delta["modules"]) == ("2", "delta from v1", "1")
    assert delta["key"] == key_id
    assert Path(full["path"]) == national.bundle(1) and national.bundle(1).is_file()
    assert Path(delta["path"]) == national.bundle(2) and national.bundle(2).is_file()
    assert national.manifests[2]["base_version"] == 1


def test_build_refuses_an_unknown_country_or_base_with_a_message(national):
    result = invoke(national.app, "build", "--country", "xx")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert 'Country "xx" is not loaded on this server.' in result.output

    result = invoke(national.app, "build", "--country", "zz", "--since", "7")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "No bundle version 7 of zz (main) was built here" in result.output
    assert not national.bundle(3).exists()


# ---------------------------------------------------------------------------- import


def test_import_says_what_it_installed_then_that_there_is_nothing_to_do(national, school):
    result = invoke(school, "import", str(national.bundle(1)))
    files = len(national.manifests[1]["files"])
    assert result.exit_code == 0, result.output
    assert re.search(
        rf"Installed zz main v1: 3 modules applied, 0 removed; {files} files copied "
        r"\([\d.]+ MB\), 0 already present\.",
        result.output,
    ), result.output

    result = invoke(school, "import", str(national.bundle(1)))
    assert result.exit_code == 0
    assert "zz main v1 is already installed: nothing to do." in result.output

    result = invoke(school, "import", str(national.bundle(2)))
    assert result.exit_code == 0
    assert "Installed zz main v2: 1 modules applied, 0 removed; 1 files copied" in result.output
    assert history(school) == [("zz", "main", 1, None), ("zz", "main", 2, 1)]


def test_import_without_a_trust_file_says_where_it_belongs(national, tmp_path):
    bare = make_app(tmp_path / "bare")
    result = invoke(bare, "import", str(national.bundle(1)))
    assert_refused(result)
    assert f"No trust file at {tmp_path / 'bare' / 'trust.toml'}" in result.output
    assert history(bare) == []


def _random_bytes(national, tmp_path):
    path = tmp_path / "random.icb"
    path.write_bytes(os.urandom(20_000))
    return path


def _truncated_copy(national, tmp_path):
    data = national.bundle(2).read_bytes()
    path = tmp_path / "zz-main-v2.icb"
    path.write_bytes(data[: len(data) // 2])
    return path


def _empty_file(national, tmp_path):
    path = tmp_path / "empty.icb"
    path.write_bytes(b"")
    return path


def _missing_file(national, tmp_path):
    return tmp_path / "absent.icb"


BAD = {
    "random bytes": (_random_bytes, "not a readable bundle"),
    "truncated copy": (_truncated_copy, "cut short or damaged"),
    "empty file": (_empty_file, "not a readable bundle"),
    "missing file": (_missing_file, "no such bundle"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_refused_with_a_message_and_nothing_changes(national, school, tmp_path, case):
    assert invoke(school, "import", str(national.bundle(1))).exit_code == 0
    make, message = BAD[case]
    path = make(national, tmp_path)
    before = Snapshot.of(school)

    result = invoke(school, "import", str(path))

    assert_refused(result)
    assert message in result.output
    assert Snapshot.of(school) == before


def test_a_damaged_trust_file_is_reported_not_raised(national, school):
    (Path(school.config["DATA_DIR"]) / "trust.toml").write_text("[[keys]\n", encoding="utf-8")
    result = invoke(school, "import", str(national.bundle(1)))
    assert_refused(result)
    assert "trust.toml" in result.output and "not valid TOML" in result.output
    assert history(school) == []


def test_the_command_line_prints_a_refusal_without_a_traceback(national, school, tmp_path):
    bad = tmp_path / "random.icb"
    bad.write_bytes(os.urandom(5000))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "imaginecole",
            "bundle",
            "import",
            str(bad),
        ],
        env=subprocess_env(school),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert f"Error: {REFUSED}" in run.stderr and "not a readable bundle" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


# ---------------------------------------------------------------------------- history and removal


def test_list_shows_country_version_date_and_publisher(national, school):
    for version in (1, 2):
        assert invoke(school, "import", str(national.bundle(version))).exit_code == 0
    key_id = load_public_key(national.public_key_path).key_id

    result = invoke(school, "list")

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Installed:"
    for version, modules in ((2, 1), (1, 3)):  # newest first
        created = national.manifests[version]["created"]
        assert re.search(
            rf"^  zz main v{version} \(created {created}, key {key_id}, installed "
            rf"\d{{4}}-\d\d-\d\d \d\d:\d\d\): {modules} modules, 0 removed$",
            result.output,
            re.MULTILINE,
        ), result.output
    assert lines[1].startswith("  zz main v2 ") and lines[2].startswith("  zz main v1 ")
    assert "Built: none" in lines

    built = invoke(national.app, "list").output
    assert "Installed: none" in built
    assert f"  zz main v2 (delta from v1) {national.bundle(2)}" in built
    assert f"  zz main v1 (full) {national.bundle(1)}" in built


def test_remove_asks_first_then_removes_the_channel_and_its_history(national, school):
    assert invoke(school, "import", str(national.bundle(1))).exit_code == 0
    client = school.test_client()
    modules = ["zz-maths-fractions", "zz-histoire-royaume", "zz-sciences-eau"]

    declined = invoke(school, "remove", "--country", "zz", input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert all(client.get(f"/fr/modules/{uid}/").status_code == 200 for uid in modules)

    result = invoke(school, "remove", "--country", "zz", "--yes")

    assert result.exit_code == 0
    assert "Removed 3 modules of zz (main)." in result.output
    for uid in modules:
        assert client.get(f"/fr/modules/{uid}/").status_code == 404, uid
    for query in ("fraction", "eau", "royaume"):
        assert search(school, query) == (0, [])
    assert "Installed: none" in invoke(school, "list").output
    assert history(school) == []


def test_remove_works_on_a_server_that_has_no_tables_yet(tmp_path):
    fresh = create_app(
        {
            "DATA_DIR": str(tmp_path / "fresh"),
            "TESTING": True,
            **database_config(tmp_path / "fresh", schema=False),
        }
    )
    result = invoke(fresh, "remove", "--country", "zz", "--yes")
    assert result.exit_code == 0, repr(result.exception)
    assert "Removed 0 modules of zz (main)." in result.output


def test_builds_started_at_once_each_get_their_own_version(tmp_path):
    app = make_app(tmp_path / "data")
    assert not load_content(app).problems
    give_signing_key(app)  # the key exists before: this is about versions, not keys
    with app.app_context():
        db.engine.dispose()  # the commands below open the database on their own
    command = [sys.executable, "-m", "imaginecole", "bundle", "build", "--country", "zz"]
    command.append("--even-if-unchanged")  # three versions of one content
    builds = [
        subprocess.Popen(
            command,
            env=subprocess_env(app),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [build.communicate(timeout=300) for build in builds]

    for build, (out, err) in zip(builds, outputs, strict=True):
        assert build.returncode == 0, err
        assert "Traceback" not in out + err
    versions = sorted(int(BUILT.search(out)["version"]) for out, _err in outputs)
    assert versions == [1, 2, 3]
    with app.app_context():
        assert sorted(db.session.scalars(db.select(BuiltBundle.version))) == [1, 2, 3]
