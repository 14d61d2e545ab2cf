"""Serving the app: how many processes, and several workers agreeing on what they serve."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from imaginecole import serving
from imaginecole.serving import MAX_DEFAULT_WORKERS, plan
from tests.conftest import TEST_CONTENT, load_content, make_app
from tests.live_server import LiveServer, start_server, stop_server


def test_workers_default_to_one_per_cpu_within_a_limit(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    for cpus, expected in ((1, 1), (2, 2), (16, MAX_DEFAULT_WORKERS), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        assert plan(app, "127.0.0.1", 5000, None, None).workers == expected


def test_settings_and_options_choose_workers_and_threads(tmp_path):
    app = make_app(tmp_path, SERVER_WORKERS=3, SERVER_THREADS=2)
    how = plan(app, "127.0.0.1", 5000, None, None)
    assert (how.workers, how.threads) == (3, 2)
    how = plan(app, "127.0.0.1", 5000, 1, 6)
    assert (how.workers, how.threads) == (1, 6)


def test_the_server_runs_several_processes_where_the_system_allows(tmp_path):
    how = plan(make_app(tmp_path), "127.0.0.1", 5000, None, None)
    assert how.server == ("granian" if os.name == "posix" else "waitress")


@pytest.mark.parametrize("missing", [OSError("no such library"), AttributeError("mallopt")])
def test_memory_tuning_is_left_out_where_the_c_library_has_none(monkeypatch, missing):
    # Windows, or a C library other than glibc (musl): the server starts all the same.
    def load(name):
        raise missing

    monkeypatch.setattr(serving.ctypes, "CDLL", load)
    serving.share_less_memory()


def search_total(port: int, query: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", f"/api/v1/search?q={quote(query)}")
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())["total"]
    finally:
        connection.close()


@pytest.mark.skipif(os.name != "posix", reason="several workers need granian")
def test_every_worker_serves_content_loaded_while_it_runs(tmp_path):
    data_dir = tmp_path / "data"
    app = make_app(data_dir)
    with app.app_context():
        from imaginecole.extensions import db

        db.engine.dispose()
    server = start_server(data_dir, tmp_path / "server.log", ("--workers", "2", "--threads", "1"))
    try:
        assert search_total(server.port, "fractions") == 0
        # Loaded by another process while both workers run, as `imaginecole content load` does.
        report = load_content(app, TEST_CONTENT)
        assert not report.problems
        # A new connection each time: the requests are spread over both workers.
        totals = {search_total(server.port, "fractions") for _ in range(20)}
        assert len(totals) == 1 and totals.pop() > 0, server.log_tail()
        assert server.log.read_text().count("Spawning worker") == 2, server.log_tail()
    finally:
        stop_server(server)


def test_a_bad_memory_bound_is_refused_by_name(tmp_path):
    app = make_app(tmp_path, SERVER_WORKER_MEMORY_MB="-1")
    with pytest.raises(serving.ServingError, match="SERVER_WORKER_MEMORY_MB is '-1'"):
        plan(app, "127.0.0.1", 5000, None, None)


def test_the_setting_of_earlier_versions_is_named_and_the_server_still_starts(tmp_path, caplog):
    app = make_app(tmp_path, SERVER_MAX_REQUESTS="300")
    how = plan(app, "127.0.0.1", 5000, None, None)
    assert how.worker_memory_mb == 0
    assert "SERVER_MAX_REQUESTS is no longer used" in caplog.text
    assert "SERVER_WORKER_MEMORY_MB" in caplog.text


def test_workers_are_bounded_in_memory_only_when_asked(tmp_path):
    unbounded = serving.granian_options(plan(make_app(tmp_path), "127.0.0.1", 5000, None, None))
    assert unbounded["workers_max_rss"] is None
    bounded = plan(make_app(tmp_path, SERVER_WORKER_MEMORY_MB=150), "127.0.0.1", 5000, 2, 3)
    options = serving.granian_options(bounded)
    assert (options["workers"], options["blocking_threads"]) == (2, 3)
    assert options["workers_max_rss"] == 150
    assert options["respawn_failed_workers"]  # a worker killed by the system is replaced


@pytest.mark.skipif(os.name != "posix", reason="replacing workers needs granian")
def test_workers_above_the_memory_bound_are_replaced_without_a_failed_answer(tmp_path):
    data_dir = tmp_path / "data"
    app = make_app(data_dir)
    report = load_content(app, TEST_CONTENT)
    assert not report.problems
    with app.app_context():
        from imaginecole.extensions import db

        db.engine.dispose()
    server = start_server(
        data_dir,
        tmp_path / "server.log",
        ("--workers", "1", "--threads", "1"),
        # Every worker is above one megabyte: each is replaced at the next check.
        settings={"IMAGINECOLE_SERVER_WORKER_MEMORY_MB": "1"},
    )
    try:
        deadline = time.monotonic() + 3 * serving.MEMORY_CHECK_SECONDS
        totals = set()
        while time.monotonic() < deadline and "RSS over threshold" not in server.log.read_text():
            totals.add(search_total(server.port, "fractions"))
        time.sleep(1)
        for _ in range(10):  # the fresh worker answers
            totals.add(search_total(server.port, "fractions"))
        assert len(totals) == 1 and totals.pop() > 0, server.log_tail()
        assert server.log.read_text().count("Spawning worker") >= 2, server.log_tail()
    finally:
        stop_server(server)


@pytest.fixture
def one_worker(tmp_path) -> Iterator[LiveServer]:
    """``imaginecole serve`` with one worker process, on an empty database."""
    data_dir = tmp_path / "data"
    make_app(data_dir)
    server = start_server(data_dir, tmp_path / "server.log", ("--workers", "1", "--threads", "1"))
    yield server
    stop_server(server)


@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker in /proc")
def test_a_worker_that_dies_is_replaced(one_worker):
    server = one_worker
    assert search_total(server.port, "fractions") == 0
    [worker] = worker_pids(server.process.pid)
    os.kill(worker, signal.SIGKILL)  # as the system's out-of-memory killer does
    # Each worker listens on the port itself: with one worker, connections are refused
    # until its replacement has started.
    deadline = time.monotonic() + 30
    total = None
    while total is None and time.monotonic() < deadline:
        try:
            total = search_total(server.port, "fractions")
        except OSError:
            time.sleep(0.2)
    assert total == 0, server.log_tail()
    assert worker not in worker_pids(server.process.pid)
    assert server.process.poll() is None, server.log_tail()


@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker in /proc")
def test_a_server_whose_workers_keep_dying_stops_with_an_error(one_worker):
    # A service manager starts it again (deploy/systemd: Restart=); a status of 0 would not.
    server = one_worker
    killed = set()
    deadline = time.monotonic() + 20
    while server.process.poll() is None and time.monotonic() < deadline:
        for worker in set(worker_pids(server.process.pid)) - killed:
            os.kill(worker, signal.SIGKILL)
            killed.add(worker)
        time.sleep(0.05)
    # granian gives up on a worker that dies again within seconds of being replaced.
    assert server.process.wait(timeout=20) == 1, server.log_tail()


def worker_pids(parent: int) -> list[int]:
    """Return the processes whose parent is ``parent`` (Linux: read from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children
