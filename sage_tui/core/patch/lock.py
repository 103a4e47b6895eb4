"""One apply, undo or recovery at a time per workspace, across processes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sage_tui.core.errors import SageError


class PatchBusy(SageError):
    """Another process is changing this workspace's files right now."""


@contextlib.contextmanager
def patch_lock(state: Path, wait: float = 10.0) -> Iterator[None]:
    """One apply, undo or recovery at a time per workspace, across processes."""
    import fcntl

    fd = os.open(state / "patch.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PatchBusy("Another sage process is applying a patch in this workspace; "
                                    "wait for it to finish and try again.") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
