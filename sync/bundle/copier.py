"""Copy a bundle's blobs into a staging folder in a second process, while the import goes on.

The rest of an import (rendering lessons, writing the database, indexing) is Python code that
holds the interpreter's lock; copying and hashing the media in a thread beside it made both
slower. A second process uses the machine's other core instead. It runs ``main`` below, so
it loads this library only, never the app, and the two talk through pickles on its standard
input and output (a trusted child of ours: no bundle data is ever unpickled).

The child copies with ``stage_blobs``, so its files are checked and named exactly as when the
import copies them itself. When the import that started it is gone (killed), its next message
finds nobody listening and it stops, within a tenth of a second or the file being copied,
leaving whole blobs that the next attempt reuses.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sync.container.archive import SignedArchive
from sync.container.staging import stage_blobs
from sync.container.writer import Progress
from sync.errors import BundleError
from sync.model import FileEntry

PROGRESS_EVERY = 0.1  # seconds between progress messages from the child
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding sync/


class CopyStopped(BundleError):
    """The copying process ended without saying it was done."""

    resumable = True

    def __init__(self, returncode: int | None):
        super().__init__(
            f"copying the bundle's files stopped unexpectedly (exit status {returncode}); "
            "start the import again: files already copied are kept"
        )


class CopyFailed(BundleError):
    """The copying process met an error that is not a refusal of the bundle (a bug)."""

    resumable = True


class ImporterGone(BaseException):
    """Raised in the child when the import that started it no longer listens."""


@dataclass
class CopyJob:
    """What the child needs: blobs to copy (checked by the parent already) and where to."""

    bundle: Path
    files: dict[str, FileEntry]
    to_copy: list[str]
    staged: set[str]
    staging: Path


def can_copy_in_background() -> bool:
    """Tell whether a second Python process can be started (not so under some app servers)."""
    # Embedded in a server such as uWSGI, sys.executable names the server, not Python.
    return bool(sys.executable) and Path(sys.executable).name.startswith("python")


class BackgroundCopy:
    """A running copy of blobs into a staging folder, in a child process."""

    def __init__(self, job: CopyJob, progress: Progress | None = None):
        self._progress = progress
        self._copied: list[str] | None = None
        self._error: BaseException | None = None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from sync.bundle.copier import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            pickle.dump(job, self._process.stdin)
            self._process.stdin.close()
        except OSError:  # the child died at once; wait() reports it
            pass
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        """Return the copying process's id."""
        return self._process.pid

    def running(self) -> bool:
        """Tell whether the child is still copying (it has not reported its end)."""
        return self._reader.is_alive()

    def _read(self, stream: BinaryIO) -> None:
        try:
            while True:
                kind, value = pickle.load(stream)
                if kind == "progress" and self._progress is not None:
                    self._progress(*value)
                elif kind == "copied":
                    self._copied = value
                elif kind == "error":
                    self._error = value
        except (EOFError, pickle.UnpicklingError):
            pass  # the end, or a child killed in the middle of a message: wait() says so
        except BaseException as error:  # a progress callback that raised: stop copying
            self._error = error
            self._process.terminate()
        finally:
            stream.close()

    def wait(self) -> list[str]:
        """Wait for the copy; return the blobs copied, or raise what stopped it."""
        self._reader.join()
        returncode = self._process.wait()
        if self._error is not None:
            raise self._error
        if self._copied is None:
            raise CopyStopped(returncode)
        return self._copied

    def stop(self) -> None:
        """Stop the copy (the import failed meanwhile) and wait until the child is gone."""
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()
        self._reader.join()


def run_job(job: CopyJob, out: BinaryIO) -> None:
    """Copy the job's blobs, sending progress, then the blobs copied or the error, to ``out``."""
    last = 0.0

    def send(kind: str, value: object) -> None:
        pickle.dump((kind, value), out)
        out.flush()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done == total:
            last = now
            try:
                send("progress", (done, total))
            except BrokenPipeError:
                raise ImporterGone() from None

    try:
        with SignedArchive(job.bundle) as archive:
            copied = stage_blobs(archive, job.files, job.to_copy, job.staged, job.staging, report)
    except ImporterGone:
        return
    except BundleError as error:
        send("error", error)
        return
    except Exception as error:  # a bug: say what it was rather than die silently
        send(
            "error",
            CopyFailed(
                f"copying the bundle's files failed ({error!r}); start the import again, and "
                "report this if it happens again"
            ),
        )
        return
    send("copied", copied)


def main() -> None:
    # Anything printed by mistake must not corrupt the messages: they get a descriptor of their
    # own, and standard output goes where errors go.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    job = pickle.load(sys.stdin.buffer)
    try:
        run_job(job, out)
    except BrokenPipeError:  # the import is gone
        pass
    except KeyboardInterrupt:  # Ctrl+C reaches the whole terminal's process group
        pass
