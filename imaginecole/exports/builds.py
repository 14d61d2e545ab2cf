"""ZIM files of a country offered on the national publishing page, built in the background.

One file per country and one per level, in ``SHARED_DIR/exports/<country>/``. A build runs
in a thread of the worker that was asked and holds a named lock for its file, which every
worker (and, on PostgreSQL, every host) sees: the page says "being built" while it is held,
and a worker that dies lets go of it. ``export_zim`` writes under a temporary name and
renames, so a listed file is always complete; a failure leaves a ``.failed`` note beside it,
which holds the code of its reason: the page says the reason in its reader's language, and the
server's log has the details.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from imaginecole.curriculum.models import Country, Level
from imaginecole.datadir import data_path, shared_path
from imaginecole.exports.selection import ExportError, choose
from imaginecole.exports.zim import INSTALL_LIBRARY, export_zim
from imaginecole.extensions import db
from imaginecole.locks import LockHeld, named_lock

log = logging.getLogger(__name__)
# Why a build failed, by the code its ``.failed`` note holds (ExportError.code, or
# "unexpected"); a code this list lacks (a note from an older version) is said as "export".
FAILURES = {
    "nothing": _l("There is no published module to put in this file."),
    "write": _l(
        "The file could not be written on the server's disk; the server's log has the details."
    ),
    "no_library": _l(
        "This server cannot write ZIM files: the libzim library is missing. The server's "
        "administrator installs it with %(command)s.",
        command=INSTALL_LIBRARY,
    ),
    "export": _l("The file could not be built; the server's log has the details."),
    "unexpected": _l("An unexpected error stopped the build; the server's log has the details."),
}


class ExportBusy(Exception):
    """That file is being built already."""


@dataclass
class ZimOffer:
    """A ZIM file the page offers: the whole country (``level`` None) or one level."""

    country: str
    level: Level | None
    path: Path
    building: bool
    failure: str  # the code of why the last build failed (FAILURES); "" when it did not

    @property
    def reason(self) -> str:
        """Say why the last build failed, in the reader's language."""
        return str(FAILURES.get(self.failure, FAILURES["export"]))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size(self) -> int | None:
        return self.path.stat().st_size if self.path.exists() else None

    @property
    def built_at(self) -> datetime | None:
        if not self.path.exists():
            return None
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)


def exports_folder(country: str) -> Path:
    return shared_path("exports", country)


def zim_name(country: str, level: str | None) -> str:
    """Return the offered file's name: ``imaginecole-sn.zim``, ``imaginecole-sn-cm1.zim``."""
    return f"imaginecole-{country}{'-' + level if level else ''}.zim"


def offers(country: Country) -> list[ZimOffer]:
    """Return the ZIM files of the country and of each of its levels, built or not."""
    return [_offer(country.code, level) for level in [None, *country.levels]]


def find_offer(country: Country, name: str) -> ZimOffer | None:
    return next((offer for offer in offers(country) if offer.name == name), None)


def _offer(country: str, level: Level | None) -> ZimOffer:
    path = exports_folder(country) / zim_name(country, level.slug if level else None)
    failed = path.with_name(path.name + ".failed")
    return ZimOffer(
        country=country,
        level=level,
        path=path,
        building=_is_building(path),
        failure=failed.read_text(encoding="utf-8").strip() if failed.exists() else "",
    )


def _lock_name(path: Path) -> str:
    return f"export-{path.stem}"


def _is_building(path: Path) -> bool:
    try:
        with named_lock(_lock_name(path), wait=False, folder=data_path()):
            return False
    except LockHeld:
        return True


def start_zim_build(country: Country, level: Level | None) -> threading.Thread:
    """Build the ZIM file of ``country`` (or of one level) in a thread of this worker.

    Raise ExportBusy when that file is being built already.
    """
    offer = _offer(country.code, level)
    if offer.building:
        raise ExportBusy()
    app = current_app._get_current_object()
    ready = threading.Event()
    thread = threading.Thread(
        target=run_zim_build,
        args=(app, country.code, level.slug if level else None, ready),
        name=f"zim-{offer.path.stem}",
        daemon=True,
    )
    thread.start()
    ready.wait(timeout=10)  # the lock is held before the page says "being built"
    return thread


def run_zim_build(
    app: Flask, country: str, level: str | None, ready: threading.Event | None = None
) -> None:
    """Build one offered ZIM file, holding its lock; note a failure beside it."""
    with app.app_context():
        path = exports_folder(country) / zim_name(country, level)
        try:
            with named_lock(_lock_name(path), wait=False, folder=data_path()):
                if ready is not None:
                    ready.set()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.with_name(path.name + ".failed").unlink(missing_ok=True)
                try:
                    export_zim(choose(country, (level,) if level else ()), path)
                except ExportError as error:
                    log.warning("The ZIM file %s could not be built: %s", path.name, error)
                    _note_failure(path, error.code)
                except Exception:
                    log.exception("The ZIM file %s could not be built", path.name)
                    _note_failure(path, "unexpected")
        except LockHeld:
            pass  # another worker is building it
        finally:
            if ready is not None:
                ready.set()
            db.session.remove()


def _note_failure(path: Path, code: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_name(path.name + ".failed").write_text(code, encoding="utf-8")
