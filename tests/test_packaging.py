"""The built wheel: installed in a fresh virtual environment, it serves French and has its WSGI app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, on_postgresql
from tests.live_server import start_server, stop_server

# What a wheel is built from; tests, content and the rest of a checkout stay out of it.
SOURCES = ("imaginecole", "sync", "translations", ".ci", "setup.cfg", "pyproject.toml", "README.md")


def build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources, as pip does, and return its path."""
    source = tmp_path / "source"
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.mo")
            shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("imaginecole-*.whl")
    return wheel


def pip(python: str | Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--quiet", *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # builds a wheel and installs it with its dependencies
def test_an_installed_wheel_serves_french_and_has_its_wsgi_app(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "imaginecole/translations/fr/LC_MESSAGES/messages.mo" in names
    assert "imaginecole/wsgi.py" in names

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    # On PostgreSQL the server below needs the driver, which is an extra, as for any install.
    pip(python, "install", f"{wheel}[postgresql]" if on_postgresql() else str(wheel))
    # Like site-packages owned by root: the app must not write there when it starts.
    package = Path(
        subprocess.check_output(
            [python, "-c", "import imaginecole; print(imaginecole.__path__[0])"],
            cwd=tmp_path,
            text=True,
        ).strip()
    )
    assert REPO_ROOT not in package.parents
    for folder, _subfolders, _files in os.walk(package):
        os.chmod(folder, 0o555)

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(
        data_dir, tmp_path / "server.log", command=environment / "bin" / "imaginecole"
    )
    try:
        with urllib.request.urlopen(f"{server.url}/fr/") as response:
            page = response.read().decode()
    finally:
        stop_server(server)
    assert "Choisissez un pays" in page and "Aller au contenu" in page
    assert "Choose a country" not in page

    wsgi = subprocess.run(
        [python, "-c", "from imaginecole.wsgi import app; print(app.name)"],
        cwd=tmp_path,
        env={**os.environ, "IMAGINECOLE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
    )
    assert wsgi.returncode == 0, wsgi.stderr
    assert wsgi.stdout.strip() == "imaginecole.app"
