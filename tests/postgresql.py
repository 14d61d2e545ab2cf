"""A private, throw-away PostgreSQL cluster for the test suite.

The cluster lives in one temporary folder, listens only on a Unix socket in that folder (no
TCP), trusts local connections and skips fsync: it exists for one test run. Root may not run
PostgreSQL, so as root the server runs as ``nobody``.

``.ci/test`` uses it from the shell::

    python -m tests.postgresql start FOLDER   # prints the server's URL
    python -m tests.postgresql stop FOLDER
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

SUPERUSER = "imaginecole"
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def server_binaries() -> Path:
    """Return the folder of ``initdb`` and ``pg_ctl``: Debian's newest, else the PATH's."""
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4])
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    if not found:
        raise RuntimeError(
            "PostgreSQL's initdb is missing: install PostgreSQL (apt-get install postgresql), "
            "or run `bash .ci/test`, which does."
        )
    return Path(found).parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.getuid() == 0 else command


def server_url(folder: Path, database: str = "postgres") -> str:
    """Return the SQLAlchemy URL of ``database`` on the cluster in ``folder``."""
    return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={folder}"


def start(folder: Path) -> str:
    """Create a cluster in the empty folder ``folder``, start it and return its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        # The server runs as nobody: it must own its folder and reach it from /.
        folder.chmod(0o755)
        os.chown(folder, pwd.getpwnam("nobody").pw_uid, -1)
    binaries = server_binaries()
    data = folder / "data"
    subprocess.run(
        _as_server_user(
            [
                str(binaries / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ]
        ),
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
    subprocess.run(
        _as_server_user(
            [
                str(binaries / "pg_ctl"),
                "--pgdata",
                str(data),
                "--log",
                str(folder / "server.log"),
                "--options",
                f"-k {folder} {options}",
                "--wait",
                "start",
            ]
        ),
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return server_url(folder)


def stop(folder: Path) -> None:
    """Stop the cluster in ``folder`` (if it runs) and delete the folder."""
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(
                [
                    str(server_binaries() / "pg_ctl"),
                    "--pgdata",
                    str(data),
                    "--mode",
                    "immediate",
                    "--wait",
                    "stop",
                ]
            ),
            cwd=folder,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    shutil.rmtree(folder, ignore_errors=True)


def main(arguments: list[str]) -> int:
    if len(arguments) != 2 or arguments[0] not in ("start", "stop"):
        print("usage: python -m tests.postgresql start|stop FOLDER", file=sys.stderr)
        return 2
    action, folder = arguments[0], Path(arguments[1]).resolve()
    if action == "start":
        print(start(folder))
    else:
        stop(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
