"""A cross-process lock file: the first owner wins, later ones are refused with its pid.

The file is unlinked (while still locked) on release, and an owner checks after
locking that the path still names the file it locked, so a waiter that opened the
old file retries on a fresh one instead of sharing the lock by mistake.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


class FileLock:
    """An exclusive, non-blocking lock on a file, held while a writer owns it.

    `busy(owner)` builds the error raised when another process holds it.
    """

    def __init__(self, path: Path, busy: Callable[[str], Exception]) -> None:
        self.path = path
        self.busy = busy
        self.fd = -1

    def acquire(self) -> None:
        for _ in range(10):  # the file may be unlinked by a closing owner: retry
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            if not _try_lock(fd):
                owner = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise self.busy(owner)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return
            os.close(fd)
        raise self.busy("unknown")

    def release(self) -> None:
        if self.fd >= 0:
            # Unlink while still holding the lock, so a waiter that opened the old
            # file notices the inode changed and retries on a fresh one.
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self.fd)
            self.fd = -1


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
