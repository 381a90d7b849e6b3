"""The two advisory locks of an artifact folder (``flock``, so the kernel drops them when the
holder dies, even by SIGKILL).

- ``.reindex.lock``: exclusive, held by the one running re-index job.
- ``.scrub.lock``: exclusive while erasure rewrites published versions; shared while a process
  verifies and loads one, so nobody reads half a rewrite.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from persona_api.errors import ArtifactError

LOCK_NAME = ".reindex.lock"
SCRUB_LOCK_NAME = ".scrub.lock"


@contextmanager
def job_lock(root: Path) -> Iterator[None]:
    """Hold ``root``'s exclusive re-index lock; raises ``ArtifactError`` if another job holds it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArtifactError("another re-index job is running") from None
        # The pid is only for a human looking at a stuck job.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def job_running(root: Path) -> bool:
    """Whether some process (this one included) holds ``root``'s re-index lock right now."""
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        # A shared probe: it conflicts with the job's exclusive lock only.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe
    return False


@contextmanager
def scrub_lock(root: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold ``root``'s ``.scrub.lock``, exclusive or shared; blocks until granted.

    A reader that cannot create the file (a read-only models folder, or none yet) goes ahead
    unlocked: nothing rewrites such a folder through the store.
    """
    if not shared:
        root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(root / SCRUB_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not shared:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
