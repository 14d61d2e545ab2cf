"""The app starts and serves where there is no fcntl (Windows), with waitress.

The subprocess hides ``fcntl`` as Windows lacks it and gives ``msvcrt.locking`` in its place,
built here on POSIX byte-range locks so that it behaves as Windows' does (non-blocking modes
raise OSError when another process holds the byte); Whoosh is given the index lock it uses on
Windows.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import TEST_CONTENT, database_env
from tests.live_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

AS_ON_WINDOWS = textwrap.dedent(
    """
    import asyncio  # noqa: F401  (these look for msvcrt to tell Windows: loaded before it is given)
    import fcntl as posix_locks
    import subprocess  # noqa: F401
    import sys
    import types

    locked = []

    def locking(fd, mode, nbytes):
        locked.append(mode)
        if mode == msvcrt.LK_UNLCK:
            posix_locks.lockf(fd, posix_locks.LOCK_UN, nbytes)
            return
        try:
            posix_locks.lockf(fd, posix_locks.LOCK_EX | posix_locks.LOCK_NB, nbytes)
        except BlockingIOError as error:
            raise PermissionError(13, "Permission denied") from error

    # Whoosh picks its index lock by os.name, which stays "posix" here: give it its Windows one.
    import whoosh.filedb.filestore
    import whoosh.util.filelock

    whoosh.filedb.filestore.FileLock = whoosh.util.filelock.MsvcrtLock

    msvcrt = types.ModuleType("msvcrt")
    msvcrt.LK_UNLCK, msvcrt.LK_LOCK, msvcrt.LK_NBLCK = 0, 1, 2
    msvcrt.locking = locking
    sys.modules["msvcrt"] = msvcrt
    sys.modules["fcntl"] = None  # `import fcntl` now fails, as on Windows
    sys.modules["granian"] = None  # not installed on Windows (setup.cfg)

    import imaginecole.__main__ as entry
    from imaginecole import locks

    assert locks.fcntl is None, "the Windows locks are in use"
    sys.argv = ["imaginecole", *sys.argv[1:]]
    try:
        entry.main()
    finally:
        print("msvcrt.locking calls:", len(locked), flush=True)
    """
)


def run_as_on_windows(data_dir: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env.update(database_env(data_dir))
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", AS_ON_WINDOWS, *args],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_without_fcntl_the_app_loads_content_and_serves_it_with_waitress(tmp_path):
    data_dir = tmp_path / "school"
    data_dir.mkdir()
    loading = run_as_on_windows(data_dir, "content", "load", str(TEST_CONTENT))
    output, _ = loading.communicate(timeout=300)
    assert loading.returncode == 0, output
    # The schema was brought up to date under the Windows file lock (SQLite) or PostgreSQL's.
    assert "msvcrt.locking calls:" in output

    port = free_port()
    server = run_as_on_windows(data_dir, "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                status, page = get(port, "/fr/modules/zz-sciences-eau/evaporation")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200
        assert "Le cycle de l" in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "waitress" in output
