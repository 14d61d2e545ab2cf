"""Build Imaginecole with setuptools, the compiled translations inside the package.

Translators work in the top-level ``translations/`` and compiled catalogs are not committed, so
an installed app would otherwise have no ``.mo`` files and serve English on ``/fr/``. Before
setuptools builds a wheel or an sdist, each ``messages.po`` is compiled into
``imaginecole/translations/`` (package data, git-ignored); the copy is removed afterwards so
that a checkout keeps reading ``translations/`` itself. A wheel built from an sdist, which has no
top-level ``translations/``, takes the catalogs the sdist carries (this file is added to the
sdist, which setuptools would leave without it).

pyproject.toml names this module (``backend-path``); every other hook is setuptools' own.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the hooks this module does not change)

SOURCE = Path("translations")
PACKAGED = Path("imaginecole", "translations")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with packaged_catalogs():
        return build_meta.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    with packaged_catalogs():
        name = build_meta.build_sdist(sdist_directory, config_settings)
    add_to_sdist(Path(sdist_directory, name), Path(__file__))
    return name


def add_to_sdist(sdist: Path, path: Path) -> None:
    """Add this backend to the sdist, which pyproject.toml names but setuptools leaves out."""
    # A .tar.gz cannot be appended to: copy it with the file added, then replace it.
    folder = sdist.name.removesuffix(".tar.gz")
    partial = sdist.with_name(f".{sdist.name}")
    with (
        tarfile.open(sdist) as source,
        tarfile.open(partial, "w:gz", format=tarfile.PAX_FORMAT) as out,
    ):
        for member in source.getmembers():
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        out.add(path, f"{folder}/{path.relative_to(path.parent.parent).as_posix()}")
    os.replace(partial, sdist)


@contextmanager
def packaged_catalogs() -> Iterator[None]:
    """Compile every catalog into the package for the length of a build (from an sdist: keep)."""
    if not SOURCE.is_dir():
        yield
        return
    shutil.rmtree(PACKAGED, ignore_errors=True)
    try:
        for po_path in sorted(SOURCE.glob("*/LC_MESSAGES/messages.po")):
            mo_path = PACKAGED / po_path.relative_to(SOURCE).with_suffix(".mo")
            mo_path.parent.mkdir(parents=True)
            with po_path.open("rb") as stream:
                catalog = read_po(stream, locale=po_path.parent.parent.name)
            with mo_path.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)
        yield
    finally:
        shutil.rmtree(PACKAGED, ignore_errors=True)
