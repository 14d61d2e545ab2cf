"""``imaginecole export zim|site``: what a national team types, and the mistakes it may make."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import load_content


@pytest.fixture
def loaded_runner(app):
    load_content(app)
    return app.test_cli_runner()


@pytest.fixture
def folder(tmp_path):
    """An empty folder for the exports (the app's data is beside it)."""
    made = tmp_path / "exports"
    made.mkdir()
    return made


def test_export_site_writes_the_folder_and_shows_progress(loaded_runner, folder):
    result = loaded_runner.invoke(
        args=["export", "site", "--country", "zz", "--level", "CM1", "--out", str(folder / "s")]
    )
    assert result.exit_code == 0, result.output
    assert "2 modules" in result.output
    assert "of 1" in result.stderr  # "Site: 3 of 12 files"
    assert (folder / "s" / "index.html").is_file()
    assert not (folder / "s" / "modules" / "zz-histoire-royaume").exists()  # 7e année only


def test_export_zim_writes_the_file(loaded_runner, folder):
    pytest.importorskip("libzim.reader", reason="the zim extra (libzim) is not installed")
    out = folder / "zz.zim"
    result = loaded_runner.invoke(
        args=["export", "zim", "--country", "zz", "--subject", "mathematiques", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"ZIM\x04"
    assert [p.name for p in folder.iterdir()] == ["zz.zim"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--country", "xx"], "No country 'xx' on this server (countries loaded: zz)"),
        (["--country", "zz", "--level", "CM9"], "No level 'CM9' in zz (levels: CM1"),
        (["--country", "zz", "--subject", "chant"], "No subject 'chant' in zz"),
        (
            ["--country", "zz", "--level", "7e-annee", "--subject", "mathematiques"],
            "No published module of zz matches this choice",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["zim", "site"])
def test_a_bad_choice_says_why_and_writes_nothing(loaded_runner, folder, kind, arguments, message):
    out = folder / "out"
    result = loaded_runner.invoke(args=["export", kind, *arguments, "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(folder.iterdir()) == []


def test_an_output_folder_that_does_not_exist_is_reported(loaded_runner, folder):
    for kind in ("zim", "site"):
        out = folder / "missing" / "out"
        result = loaded_runner.invoke(args=["export", kind, "--country", "zz", "--out", str(out)])
        assert result.exit_code != 0
        assert "does not exist: create it first" in result.output
    assert list(folder.iterdir()) == []


def test_a_missing_zim_library_says_how_to_install_it(loaded_runner, folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "libzim.writer", None)  # as if it were not installed
    out = folder / "zz.zim"
    result = loaded_runner.invoke(args=["export", "zim", "--country", "zz", "--out", str(out)])
    assert result.exit_code == 1
    assert "pip install 'imaginecole[zim]'" in result.output
    assert "Traceback" not in result.output
    assert list(folder.iterdir()) == []
