"""Named locks: held against every other process of the server, dropped when the holder dies.

On PostgreSQL they are advisory locks (every host sees them); on SQLite, file locks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from imaginecole.datadir import data_path
from imaginecole.locks import LockHeld, advisory_key, named_lock
from tests.conftest import database_env

REPO_ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import time
    from imaginecole.app import create_app
    from imaginecole.datadir import data_path
    from imaginecole.locks import named_lock

    app = create_app()
    with app.app_context(), named_lock("build-zz-main", wait=True, folder=data_path()):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def hold_in_another_process(app) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMAGINECOLE_")}
    env.update(database_env(app.config["DATA_DIR"]))
    env["PYTHONPATH"] = str(REPO_ROOT)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = holder.stdout.readline()
    assert line.strip() == "locked", holder.stderr.read()
    return holder


def test_a_lock_another_process_holds_is_refused_or_waited_for_until_it_dies(app):
    holder = hold_in_another_process(app)
    try:
        with app.app_context():
            with pytest.raises(LockHeld):
                with named_lock("build-zz-main", wait=False, folder=data_path()):
                    pass
            # Another name is free.
            with named_lock("build-zz-other", wait=False, folder=data_path()):
                pass

        acquired: list[float] = []

        def wait_for_it() -> None:
            with app.app_context(), named_lock("build-zz-main", wait=True, folder=data_path()):
                acquired.append(time.monotonic())

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.5)
        assert not acquired, "a waiting lock is not taken while another process holds it"
        killed_at = time.monotonic()
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    # The holder died without releasing anything: the kernel or the database did it.
    waiter.join(timeout=30)
    assert acquired and acquired[0] >= killed_at


def test_advisory_lock_numbers_are_fixed_by_the_name():
    assert advisory_key("import") == advisory_key("import")
    assert advisory_key("import") != advisory_key("build-zz-main")
    assert -(2**63) <= advisory_key("import") < 2**63
