"""Start and stop the real server, ``imaginecole serve``, in a subprocess for tests."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import TEST_PORTS, database_env

SERVER_START_TIMEOUT = 20.0  # seconds


def free_port() -> int:
    """Return a free port of 127.0.0.1: the system's choice, or one of IMAGINECOLE_TEST_PORTS.

    ``IMAGINECOLE_TEST_PORTS=8200-8299`` keeps the servers a test starts within that range.
    """
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Return ``count`` different free ports, as free_port chooses them."""
    wanted = TEST_PORTS
    first, _, last = wanted.partition("-")
    candidates = iter(range(int(first), int(last or first) + 1) if wanted else [0] * count)
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            port = next(candidates, None)
            if port is None:
                raise RuntimeError(f"not {count} free ports in IMAGINECOLE_TEST_PORTS={wanted}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def console_script(name: str) -> Path:
    """Return the console script ``name`` installed next to the running Python."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the app with `bash .ci/test` (pip install -e .)")
    return path


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    port: int
    data_dir: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def start_server(
    data_dir: Path,
    log: Path,
    extra_args: tuple[str, ...] = (),
    command: Path | None = None,
    settings: dict[str, str] | None = None,
    start_timeout: float = SERVER_START_TIMEOUT,
) -> LiveServer:
    """Start ``imaginecole serve`` on a free port of 127.0.0.1 and wait until it answers.

    ``command`` is the ``imaginecole`` script to run, by default the one of this checkout;
    ``settings``, environment variables that replace those of ``data_dir``'s database.
    """
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env.update(database_env(data_dir))
    env.update(settings or {})
    env["PYTHONUNBUFFERED"] = "1"  # the log is complete when shown after a failure
    arguments = [
        str(command or console_script("imaginecole")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra_args,
    ]
    with log.open("wb") as out:
        # A session of its own: stopping it stops the workers too, even one being replaced.
        process = subprocess.Popen(
            arguments,
            cwd=data_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, data_dir, log, process)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server stopped at start (exit code {process.returncode}):\n"
                + server.log_tail()
            )
        if _answers(port):
            return server
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(
        f"the server did not answer on port {port} within {start_timeout:.0f} s:\n"
        + server.log_tail()
    )


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    if os.name == "posix":
        # A worker left behind (its server killed while replacing it) would hold the port.
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve ``app`` over real HTTP on 127.0.0.1 in a thread; yield its URL (no trailing slash).

    For clients that speak HTTP themselves (harvesters, feed readers). ``TEST_SERVER_PORTS``
    (``8700-8799``) keeps the port within a range where a machine allots them.
    """
    server = None
    for port in _allowed_ports():
        try:
            server = make_server("127.0.0.1", port, app, threaded=True)
            break
        except OSError:
            continue
    if server is None:
        raise RuntimeError("no free port in TEST_SERVER_PORTS")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _allowed_ports() -> list[int]:
    allowed = os.environ.get("TEST_SERVER_PORTS", "")
    if not allowed:
        return [0]
    first, _, last = allowed.partition("-")
    return list(range(int(first), int(last or first) + 1))
