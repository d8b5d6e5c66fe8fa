"""An import's working lock: held by the process that checks or issues it, let go of
by the kernel when that process ends, however it ends (``kill -9`` included), so that
any process can tell an import at work from one whose process stopped."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["WORKING", "abandoned", "working"]

WORKING = ".working"
"""The file in an import's directory whose lock its working process holds."""


@contextmanager
def working(directory: Path, identifier: str) -> Iterator[None]:
    """Hold the import's working lock while this process works on it; the lock file
    is removed once the work is over, so a lock file left behind is a process's that
    stopped in the middle."""
    path = directory / identifier / WORKING
    # Locked before it is in place: a lock file seen unlocked is always one left behind.
    try:
        fd, made = tempfile.mkstemp(dir=path.parent, prefix=f"{WORKING}-")
    except OSError:  # no kept directory: the work finds the file gone and says so
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(made, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(made)
        os.close(fd)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def abandoned(directory: Path, identifier: str) -> bool:
    """Whether a process worked on the import and stopped before the end: its lock
    file is there and no process holds the lock."""
    path = directory / identifier / WORKING
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # not started yet, or over
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # held: its process is at work
        return path.exists()  # removed meanwhile: the work is over, not cut short
    finally:
        os.close(fd)
