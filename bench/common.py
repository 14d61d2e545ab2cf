"""Pieces shared by the benchmarks in this folder: the app's environment, a server on 127.0.0.1
and clients to load it, percentiles, the machine line, JSON figures and temporary folders.

Imported by the benchmarks of this folder (``bench/serve.py``, ``bench/bundles.py`` …); not run
itself.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = (REPO_ROOT.parent / "shared" / "corpus").resolve()
FRANCE_CONTENT = REPO_ROOT / "content"  # the France curriculum the corpus courses go into
CORPUS_COURSES = (  # (folder, level, subject, licence), as given to `content import-course`
    ("glassus-nsi/snt", "2nde", "snt", "CC-BY-SA-4.0"),
    ("glassus-nsi/premiere_nsi", "1re", "nsi", "CC-BY-SA-4.0"),
    ("glassus-nsi/terminale_nsi", "Tle", "nsi", "CC-BY-SA-4.0"),
    ("roche-nsi-terminale", "Tle", "nsi", "CC0-1.0"),
)
STOP_TIMEOUT = 10.0  # seconds for a server to stop before it is killed


# ----------------------------------------------------------------------------- output


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def this_machine() -> dict:
    """The fields ``python``, ``machine`` and ``cpus`` of a benchmark's figures."""
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count() or 0,
    }


def print_machine(run) -> None:
    """Print the report's machine line from a run holding the fields of ``this_machine``."""
    print(f"  machine  {run.machine}, {run.cpus} CPUs, Python {run.python}")


def write_json(path: Path, run) -> None:
    """Write the figures of ``run`` (a dataclass) to ``path`` as JSON."""
    path.write_text(json.dumps(asdict(run), indent=2, ensure_ascii=False) + "\n")
    log(f"Figures written to {path}")


def remove_unless_kept(folder: Path, keep: bool, name: str = "Temporary folder") -> None:
    """Remove a benchmark's temporary ``folder``, or say where it is when ``keep`` is set."""
    if keep:
        log(f"{name} kept: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def percentile_ms(sorted_seconds: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted seconds, in milliseconds."""
    if not sorted_seconds:
        return None
    rank = max(1, round(fraction * len(sorted_seconds)))
    return round(sorted_seconds[min(rank, len(sorted_seconds)) - 1] * 1000, 2)


# ----------------------------------------------------------------------------- the app


def app_environment(data_dir: Path) -> dict[str, str]:
    """The environment of the app: this machine's own IMAGINECOLE_* settings never leak in."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env["IMAGINECOLE_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"  # the server's log is complete when read
    return env


def clean_environment(data_dir: Path) -> dict[str, str]:
    """Like ``app_environment``, but also removes IMAGINECOLE_* settings from this process."""
    for name in [name for name in os.environ if name.startswith("IMAGINECOLE_")]:
        del os.environ[name]
    return app_environment(data_dir)


def open_app(data_dir: Path, **config):
    """The app on ``data_dir`` (and ``config``), in this process, with its schema in place."""
    clean_environment(data_dir)
    from imaginecole.app import create_app
    from imaginecole.schema import ensure_schema

    app = create_app({"DATA_DIR": str(data_dir), **config})
    ensure_schema(app)
    return app


def console_script() -> str:
    beside = Path(sys.executable).parent / "imaginecole"
    if beside.exists():
        return str(beside)
    found = shutil.which("imaginecole")
    if not found:
        sys.exit("The `imaginecole` command is not installed: run with .venv/bin/python.")
    return found


def run_cli(arguments: list[str], data_dir: Path, timeout: float) -> tuple[int, list[str], float]:
    """Run ``imaginecole ARGUMENTS`` on ``data_dir``; return exit code, output lines, seconds."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [console_script(), *arguments],
            cwd=data_dir,
            env=clean_environment(data_dir),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, [f"stopped after {timeout:.0f} s"], time.perf_counter() - started
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, lines, time.perf_counter() - started


def load_corpus(data_dir: Path, corpus: Path, timeout: float, notes: list[str]) -> list[Path]:
    """Load the real corpus into ``data_dir`` with the real commands; return the folders imported.

    The France curriculum of ``content/`` first, then the four course sites of ``corpus``
    through ``content import-course``; what each import did (or that a folder is missing) is
    added to ``notes``.
    """
    code, lines, seconds = run_cli(
        ["content", "load", str(FRANCE_CONTENT), "--country", "fr"], data_dir, timeout
    )
    if code != 0:
        raise RuntimeError("`content load --country fr` failed:\n" + "\n".join(lines[-10:]))
    log(f"  content load --country fr: {seconds:.1f} s")
    imported = []
    for folder, level, subject, licence in CORPUS_COURSES:
        directory = corpus / folder
        if not directory.is_dir():
            notes.append(f"{folder}: not found, left out")
            continue
        arguments = ["content", "import-course", str(directory), "--country", "fr"]
        arguments += ["--level", level, "--subject", subject, "--licence", licence]
        code, lines, seconds = run_cli(arguments, data_dir, timeout)
        summary = next((line for line in lines if line.startswith("Modules:")), "")
        skipped = sum(line.lstrip().startswith("skipped:") for line in lines)
        note = f"{folder}: import-course {seconds:.1f} s. {summary}"
        if skipped:
            note += f" ({skipped} files or links skipped by import-course)"
        if code != 0:
            note += f" Exit code {code}: {lines[-1] if lines else ''}"
        notes.append(note)
        log(f"  {note}")
        imported.append(directory)
    return imported


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def add_server_options(parser) -> None:
    """Add --workers and --threads, passed on to ``imaginecole serve`` when given."""
    parser.add_argument(
        "--workers", type=at_least_one, help="server worker processes (default: the setting)"
    )
    parser.add_argument(
        "--threads", type=at_least_one, help="threads per server worker (default: the setting)"
    )


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


class Server:
    """``imaginecole serve`` on 127.0.0.1 and a free port, run in ``data_dir``.

    ``workers`` and ``threads`` (per worker) are passed on when given; otherwise the server
    uses its settings. Its output goes to ``log_name`` in ``data_dir`` ("{port}" is replaced by
    the port, free unless ``port`` is given). With ``script``, runs that Python code instead,
    given the port, the number of workers and the number of threads ("" for the setting) as
    arguments.
    """

    def __init__(
        self,
        data_dir: Path,
        log_name: str,
        script: str | None = None,
        *,
        workers: int | None = None,
        threads: int | None = None,
        port: int | None = None,
    ):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.log_path = data_dir / log_name.format(port=self.port)
        if script is not None:
            command = [
                sys.executable,
                "-c",
                script,
                str(self.port),
                str(workers or ""),
                str(threads or ""),
            ]
        else:
            command = [console_script(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            if workers:
                command += ["--workers", str(workers)]
            if threads:
                command += ["--threads", str(threads)]
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=data_dir,
                env=app_environment(data_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory_kb(self, field_name: str) -> int:
        """``field_name`` of /proc/<pid>/status (VmRSS, VmHWM) in kB, summed over the server
        and all its descendants: granian serves from worker processes, and the parent alone
        would leave out nearly all the memory. 0 when unknown.

        Pages the forked workers still share with their parent are counted once per process,
        so the sum is an upper bound. For VmHWM it is the sum of each process's own peak.
        """
        return sum(status_kb(pid, field_name) for pid in process_tree(self.pid))

    def proportional_memory_kb(self) -> int:
        """The server's memory with shared pages split between the processes sharing them (PSS).

        What the server really takes from the machine: forked workers share most of the app
        with their parent. 0 where /proc/<pid>/smaps_rollup is missing (before Linux 4.14).
        """
        return sum(rollup_kb(pid, "Pss") for pid in process_tree(self.pid))

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(
        self,
        path: str,
        ready: Callable[[int], bool],
        timeout: float,
        pause: float,
        request_timeout: float,
    ) -> None:
        """Ask for ``path`` every ``pause`` seconds until ``ready`` accepts the status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server stopped at start (exit code {self.process.returncode}):\n"
                    + self.log_tail()
                )
            try:
                if ready(get(self.port, path, request_timeout)[0]):
                    return
            except OSError:
                pass
            time.sleep(pause)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def status_kb(pid: int, field_name: str) -> int:
    """A size from /proc/<pid>/status (VmRSS, VmHWM …) in kB, 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):  # gone, or not Linux
        pass
    return 0


def rollup_kb(pid: int, field_name: str) -> int:
    """A size from /proc/<pid>/smaps_rollup (Pss, Rss …) in kB, 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it, from the parents given in /proc/*/stat.

    /proc/<pid>/task/<tid>/children would be shorter, but it needs a kernel option that not
    every kernel has. Processes that end during the scan are skipped. Just ``[root]`` where
    there is no /proc.
    """
    children: dict[int, list[int]] = {}
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return [root]
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            # The command name, in parentheses, may hold spaces: the fields after it are
            # "state ppid …".
            ppid = int(stat[stat.rindex(")") + 1 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        if pid in tree:  # a pid reused during the scan could make a loop
            continue
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


# ----------------------------------------------------------------------------- load


@dataclass
class Load:
    """What ``run_clients`` saw."""

    ok: list[float]  # seconds of each request answered with 200
    other: list[float]  # seconds of each request answered with another status
    errors: int  # requests not answered with 200, and clients that could not start
    seconds: float  # from the start of the clients until the last one stopped
    tickets: int  # numbers handed out to the clients
    unfinished: bool  # some clients were still running when no longer waited for


def run_clients(
    port: int,
    clients: int,
    duration: float,
    timeout: float,
    path_for: Callable[[int], str | None],
) -> Load:
    """Run ``clients`` clients on 127.0.0.1 for ``duration`` seconds, timing each request.

    Each client is a thread with its own keep-alive connection. Requests are numbered from 0
    across all clients: ``path_for(number)`` gives the path to ask for, or None to stop.
    """
    ok: list[list[float]] = [[] for _ in range(clients)]
    other: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    tickets = itertools.count()  # next() on a count is atomic in CPython: each number once
    barrier = threading.Barrier(clients + 1)
    window = {"end": 0.0}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            barrier.wait(timeout=30)
            while time.perf_counter() < window["end"]:
                path = path_for(next(tickets))
                if path is None:
                    break
                began = time.perf_counter()
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors[index] += 1
                    connection.close()  # reconnects on the next request
                    continue
                took = time.perf_counter() - began
                if response.status == 200:
                    ok[index].append(took)
                else:
                    errors[index] += 1
                    other[index].append(took)
        except threading.BrokenBarrierError:
            errors[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    window["end"] = time.perf_counter() + duration
    started = time.perf_counter()
    barrier.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=duration + timeout + 5)
    elapsed = time.perf_counter() - started
    return Load(
        ok=[value for mine in ok for value in mine],
        other=[value for mine in other for value in mine],
        errors=sum(errors),
        seconds=elapsed,
        tickets=next(tickets),
        unfinished=any(thread.is_alive() for thread in threads),
    )
