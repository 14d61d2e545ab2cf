"""The ``imaginecole-sync`` command: clear messages, meaningful exit codes, never a traceback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.bundle import load_public_key, root_entry_toml, trust_entry_toml
from sync.cli import cli
from sync.container.keys import load_private_key, sign
from tests.sync.bundle.test_support import TEST_CONTENT, blob_names, rewrite


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args: str, code: int = 0):
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    # A refusal ends in SystemExit; anything else would have been a traceback for the user.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def publisher(tmp_path, runner):
    """Keys in tmp/keys, a copy of the content, and a trust file for zz."""
    result = run(runner, "keys", "generate", "--out", tmp_path / "keys", "--name", "zz-team",
                 "--country", "zz")  # fmt: skip
    key_id = re.search(r"Key ([0-9a-f]{16})", result.output).group(1)
    entry = result.output[result.output.index("[[keys]]") :]
    (tmp_path / "trust.toml").write_text("format = 1\n\n" + entry, encoding="utf-8")
    content = tmp_path / "content"
    shutil.copytree(TEST_CONTENT, content)
    return tmp_path, key_id


def build(runner, root: Path, *extra: str, code: int = 0, out: str = "zz.icb"):
    return run(
        runner, "build", "--content", root / "content", "--country", "zz", "--version", "1",
        "--key", root / "keys" / "zz-team.key", "--out", root / out, *extra, code=code,
    )  # fmt: skip


def test_keys_generate_writes_both_files_and_prints_the_trust_entry(publisher, runner):
    root, key_id = publisher
    assert (root / "keys" / "zz-team.key").is_file() and (root / "keys" / "zz-team.pub").is_file()
    shown = run(runner, "keys", "show", root / "keys" / "zz-team.pub")
    assert key_id in shown.output and 'countries = ["xx"]' in shown.output


def test_keys_generate_refuses_to_overwrite(publisher, runner):
    root, _ = publisher
    result = run(runner, "keys", "generate", "--out", root / "keys", "--name", "zz-team", code=1)
    assert "already exists" in result.output


def test_build_then_verify_with_the_trust_file(publisher, runner):
    root, key_id = publisher
    built = build(runner, root)
    assert "Wrote" in built.output and "version 1 (full)" in built.output
    assert key_id in built.output
    verified = run(runner, "verify", root / "zz.icb", "--trust", root / "trust.toml")
    assert verified.output.startswith("GOOD ") and "All 1 bundle(s) are good." in verified.output


def test_building_twice_gives_the_same_bytes(publisher, runner):
    root, _ = publisher
    build(runner, root, out="a.icb")
    build(runner, root, out="b.icb")
    assert (root / "a.icb").read_bytes() == (root / "b.icb").read_bytes()


def test_build_an_update_for_some_subjects(publisher, runner):
    root, _ = publisher
    build(runner, root, "--subject", "mathematiques")
    out = root / "out"
    out.mkdir()
    result = run(
        runner, "build", "--content", root / "content", "--country", "zz", "--version", "2",
        "--key", root / "keys" / "zz-team.key", "--out", out, "--since", root / "zz.icb",
    )  # fmt: skip
    # Modules of the other subjects enter the channel; nothing was removed.
    assert "update from version 1" in result.output and "0 removed" in result.output
    assert "2 module(s)" in result.output
    run(runner, "verify", out / "zz-main-v2.icb", "--trust", root / "trust.toml")


def test_build_in_parts_shows_progress_and_names_the_parts(publisher, runner):
    root, _ = publisher
    result = build(runner, root, "--part-size", "4k")
    assert re.search(r"Writing \[#+\] (\d\.\d) kB / \1 kB 100%", result.output)
    assert "in 3 parts: copy all of them, zz.icb.001 to zz.icb.003" in result.output
    run(runner, "verify", root / "zz.icb.002", "--trust", root / "trust.toml")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--level", "CM7"), "level 'CM7' is not in the curriculum of zz"),
        (("--since", "absent.icb"), "no such bundle"),
        (("--part-size", "big"), "write a size like"),
    ],
)
def test_bad_build_options_get_a_clear_message(publisher, runner, extra, message):
    root, _ = publisher
    extra = tuple(str(root / e) if e.endswith(".icb") else e for e in extra)
    result = build(runner, root, *extra, code=1 if "size" not in message else 2)
    assert message in result.output


def test_build_reports_content_problems_and_builds_nothing(publisher, runner):
    root, _ = publisher
    (root / "content/zz/modules/zz-sciences-eau/module.toml").write_text("version = 0\n")
    result = build(runner, root, code=1)
    assert "module.toml" in result.output and "nothing was built" in result.output
    assert not list(root.glob("zz.icb*"))


def test_build_with_a_missing_key_or_country(publisher, runner):
    root, _ = publisher
    result = run(
        runner, "build", "--content", root / "content", "--country", "sn", "--version", "1",
        "--key", root / "keys" / "zz-team.key", "--out", root / "sn.icb", code=1,
    )  # fmt: skip
    assert "no content for country 'sn'" in result.output
    result = run(
        runner, "build", "--content", root / "content", "--country", "zz", "--version", "1",
        "--key", root / "nokey.pem", "--out", root / "zz.icb", code=1,
    )  # fmt: skip
    assert "nokey.pem: cannot be read" in result.output


def test_verify_a_folder_with_a_good_and_a_bad_bundle(publisher, runner):
    root, _ = publisher
    build(runner, root)
    stick = root / "stick"
    stick.mkdir()
    shutil.copy(root / "zz.icb", stick / "good.icb")
    victim = blob_names(root / "zz.icb")[0]
    rewrite(root / "zz.icb", stick / "bad.icb", drop=lambda name: name == victim)

    result = run(runner, "verify", stick, "--trust", root / "trust.toml", code=1)
    lines = result.output.splitlines()
    assert any(line.startswith("GOOD ") and "good.icb" in line for line in lines)
    assert any(line.startswith("BAD ") and "bad.icb" in line for line in lines)
    assert any("missing from the bundle" in line for line in lines)
    assert "1 of 2 bundle(s) are bad" in result.output


def test_verify_without_a_trust_file_says_so(publisher, runner):
    root, _ = publisher
    build(runner, root)
    result = run(runner, "verify", root / "zz.icb")
    assert "no trust file given" in result.output


def test_verify_refuses_a_key_the_trust_file_lacks(publisher, runner, tmp_path):
    root, _ = publisher
    build(runner, root)
    other = tmp_path / "other"
    run(runner, "keys", "generate", "--out", other, "--country", "zz")
    shown = run(runner, "keys", "show", other / "publisher.key", "--country", "zz")
    (other / "trust.toml").write_text(shown.output[shown.output.index("[[keys]]") :])
    result = run(runner, "verify", root / "zz.icb", "--trust", other / "trust.toml", code=1)
    assert "not in this server's trust file" in result.output


@pytest.mark.parametrize("target", ["nothing-here", "empty"])
def test_verify_with_nothing_to_check_fails(publisher, runner, target):
    root, _ = publisher
    (root / "empty").mkdir()
    result = run(runner, "verify", root / target, code=1)
    assert "no such file" in result.output or "no bundle" in result.output


def test_verify_with_a_broken_trust_file(publisher, runner):
    root, _ = publisher
    build(runner, root)
    (root / "trust.toml").write_text("[[keys]]\nkey_id = 1\n")
    result = run(runner, "verify", root / "zz.icb", "--trust", root / "trust.toml", code=1)
    assert "trust.toml" in result.output and "key 1" in result.output


def test_the_ministry_signs_trust_files_with_its_root_keys_and_checks_the_next(tmp_path, runner):
    for name in ("root-a", "root-b", "team"):
        run(runner, "keys", "generate", "--out", tmp_path, "--name", name)
    root_a, root_b, team = (
        load_public_key(tmp_path / f"{n}.pub") for n in ("root-a", "root-b", "team")
    )
    head = "format = 1\nversion = {}\nroot_threshold = 2\n\n"
    body = root_entry_toml(root_a) + "\n" + root_entry_toml(root_b) + "\n"
    body += trust_entry_toml(team, ["zz"])
    first, second = tmp_path / "trust-1.toml", tmp_path / "trust-2.toml"
    first.write_text(head.format(1) + body, encoding="utf-8")
    second.write_text(head.format(2) + body, encoding="utf-8")
    for path in (first, second):
        signed = run(runner, "trust", "sign", path, "--key", tmp_path / "root-a.key")
        assert "1 of the 2 signature(s)" in signed.output
    refused = run(runner, "trust", "check", second, "--previous", first, code=1)
    assert "needs 2" in refused.output
    run(runner, "trust", "sign", second, "--key", tmp_path / "root-b.key")
    assert "may replace" in run(runner, "trust", "check", second, "--previous", first).output
    assert (
        "older than version 2"
        in run(runner, "trust", "check", first, "--previous", second, code=1).output
    )
    not_a_root = run(runner, "trust", "sign", second, "--key", tmp_path / "team.key", code=1)
    assert "not among the root keys" in not_a_root.output


@pytest.mark.parametrize("entry", ["signature.json", "manifest.json"])
def test_deeply_nested_json_is_a_clear_refusal_not_a_crash(publisher, runner, entry):
    # 10 kB that a recursive JSON parser cannot get through; no key is needed to make it.
    root, _ = publisher
    build(runner, root)
    nested = b"[" * 5000 + b"]" * 5000
    bad = rewrite(root / "zz.icb", root / "nested.icb", replace={entry: nested})
    trust = root / "trust.toml"
    if entry == "manifest.json":  # the signature must hold for the manifest to be read
        key = load_private_key(root / "keys" / "zz-team.key")
        bad = rewrite(
            root / "zz.icb",
            root / "nested.icb",
            replace={entry: nested, "signature.json": sign(nested, key).to_json_bytes()},
        )

    result = run(runner, "verify", bad, "--trust", trust, code=1)

    assert "BAD " in result.output
    assert "too deeply" in result.output
