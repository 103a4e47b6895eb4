"""Workspace confinement: every path a tool touches is checked against the roots.

Denied, each with a reason: NUL bytes, paths too long to be real, absolute paths
outside the roots, `..` escapes, `.git` in any letter case (and everything in it),
symlinks at any depth that lead out of a root (or into `.git`), and device files,
FIFOs and sockets. Reads check the file they actually opened (no symlink followed at
the last step, same inode as checked, a regular file); writes go to a temporary file
in the same folder and `os.replace` it into place, so a hard link to a file outside
the workspace is replaced, never written through.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sage_tui.core.workspace.state import atomic_write_bytes

MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255


class PathDenied(PermissionError):
    """A path outside what tools may touch; the message says why."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _names_git(parts: tuple[str, ...]) -> bool:
    return any(part.lower() == ".git" for part in parts)


class Workspace:
    """The folders tools may read and write."""

    def __init__(self, roots: list[Path]) -> None:
        if not roots:
            raise ValueError("a workspace needs at least one root")
        self.roots = [Path(root).resolve(strict=True) for root in roots]

    @property
    def root(self) -> Path:
        """The first root: relative paths are taken from it."""
        return self.roots[0]

    def relative(self, path: Path) -> str:
        """`path` as shown to the model and the user: relative to its root."""
        for root in self.roots:
            if _inside(path, root):
                return path.relative_to(root).as_posix() or "."
        return str(path)

    def resolve(self, path: str, write: bool = False) -> Path:
        """Check `path` and return the real path it names.

        Raises:
            PathDenied: with the reason, when the path is not allowed.
        """
        if not isinstance(path, str) or not path.strip():
            raise PathDenied("An empty path names nothing; give a path inside the workspace.")
        if "\0" in path:
            raise PathDenied(f"The path {path!r} contains a NUL byte.")
        if len(path) > MAX_PATH_CHARS or any(len(p) > MAX_NAME_CHARS for p in path.split("/")):
            raise PathDenied(f"The path {path[:60]!r}... is too long to be a real file name.")
        given = Path(path)
        candidate = given if given.is_absolute() else self.root / given
        lexical = Path(os.path.normpath(candidate))
        root = next((r for r in self.roots if _inside(lexical, r)), None)
        if root is None:
            if given.is_absolute():
                raise PathDenied(f"{path} is outside the workspace ({self.root}).")
            raise PathDenied(f"{path} climbs out of the workspace with '..'.")
        if _names_git(lexical.relative_to(root).parts):
            raise PathDenied(f"{path} is inside .git, which tools may not touch.")
        real = lexical.resolve(strict=False)
        if not _inside(real, root):
            raise PathDenied(f"{path} leads outside the workspace through a symbolic link "
                             f"(to {real}).")
        if _names_git(real.relative_to(root).parts):
            raise PathDenied(f"{path} leads into .git through a symbolic link.")
        try:
            info = os.stat(real)
        except FileNotFoundError:
            return real
        except OSError as exc:
            raise PathDenied(f"{path} cannot be checked ({exc.strerror}).") from exc
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise PathDenied(f"{path} is a {_kind(info.st_mode)}, not a regular file.")
        if write and stat.S_ISDIR(info.st_mode):
            raise PathDenied(f"{path} is a folder; give a file path.")
        return real

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """Read a file, checking the file actually opened, not just its name."""
        real = self.resolve(path)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise
        except OSError as exc:  # ELOOP: swapped for a symlink after the check
            raise PathDenied(f"{path} changed while it was being opened ({exc.strerror}).") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise PathDenied(f"{path} is a {_kind(info.st_mode)}, not a regular file.")
            try:
                checked = os.stat(real)
            except OSError:
                checked = None
            if checked is None or (checked.st_dev, checked.st_ino) != (info.st_dev, info.st_ino):
                raise PathDenied(f"{path} was replaced while it was being opened.")
            return handle.read() if limit is None else handle.read(limit)

    def write_bytes(self, path: str, data: bytes) -> Path:
        """Replace a file's contents atomically (temporary file, fsync, rename)."""
        real = self.resolve(path, write=True)
        parent = real.parent
        if not parent.is_dir():
            self.resolve(self.relative(parent))  # the folder must be allowed too
            parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(real, data)
        return real


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
