"""Workspace confinement: confined operations, not confined checks.

Every read, write, rename and delete in the workspace walks the path one component
at a time from a directory file descriptor with `O_NOFOLLOW` (`os.open(name,
dir_fd=...)`), and then acts relative to the descriptor of the last folder. A
symbolic link swapped in after a check cannot redirect anything: the walk refuses
it, and an operation on an open folder descriptor stays in that folder.

Refused, each with a reason: empty names, NUL bytes, names too long to be real,
absolute paths outside the roots, `..` escapes, `.git` and `.sage` in any letter case
(and everything in them), symbolic links at any depth, and device files, FIFOs and
sockets. Writes go to a temporary file in the same folder and are renamed into
place, so a hard link to a file outside the workspace is replaced, never written
through. Files a read rule of the policy hides (`hidden`) cannot be read at all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255
PROTECTED = (".git", ".sage")  # never read or written by tools and patches, in any case
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class PathDenied(PermissionError):
    """A path outside what tools may touch; the message says why."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _protected(parts: tuple[str, ...] | list[str]) -> str | None:
    for part in parts:
        if part.lower() in PROTECTED:
            return part
    return None


class Workspace:
    """The folders tools may read and write, and the confined operations on them."""

    def __init__(self, roots: list[Path], hidden: Callable[[str], bool] | None = None) -> None:
        """Args:
            roots: The workspace folders (the first one is where relative paths start).
            hidden: Says which workspace-relative paths a read rule denies.
        """
        if not roots:
            raise ValueError("a workspace needs at least one root")
        self.roots = [Path(root).resolve(strict=True) for root in roots]
        self.hidden = hidden or (lambda path: False)

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

    # -- names ----------------------------------------------------------------------
    def locate(self, path: str) -> tuple[Path, str]:
        """The root and the normalised root-relative name `path` means, by its letters only.

        `./a//b`, `x/../a/b` and the absolute spelling all become `a/b`; the root
        itself is `.`. Nothing on disk is consulted.

        Raises:
            PathDenied: with the reason, when the name is not allowed.
        """
        if not isinstance(path, str) or not path.strip():
            raise PathDenied("An empty path names nothing; give a path inside the workspace.")
        if "\0" in path:
            raise PathDenied(f"The path {path!r} contains a NUL byte.")
        if len(path) > MAX_PATH_CHARS or any(len(p) > MAX_NAME_CHARS for p in path.split("/")):
            raise PathDenied(f"The path {path[:60]!r}... is too long to be a real file name.")
        given = Path(path)
        candidate = given if given.is_absolute() else self.root / given
        lexical = Path(posixpath.normpath(candidate.as_posix()))
        root = next((r for r in self.roots if _inside(lexical, r)), None)
        if root is None:
            if given.is_absolute():
                raise PathDenied(f"{path} is outside the workspace ({self.root}).")
            raise PathDenied(f"{path} climbs out of the workspace with '..'.")
        rel = lexical.relative_to(root).as_posix() or "."
        name = _protected(rel.split("/"))
        if name is not None:
            raise PathDenied(f"{path} is inside {name.lower()}, which tools and patches never "
                             "touch.")
        return root, rel

    def normalize(self, path: str) -> str:
        """The workspace-relative name of `path` (what policy rules are matched against)."""
        root, rel = self.locate(path)
        if root == self.root:
            return rel
        return (root / rel).as_posix()

    def resolve(self, path: str, write: bool = False) -> Path:
        """Check `path` on disk now and return the path it names (for display and listing).

        A check only: operations themselves go through the descriptor walk.

        Raises:
            PathDenied: with the reason, when the path is not allowed.
        """
        root, rel = self.locate(path)
        if rel == ".":
            if write:
                raise PathDenied(f"{path} is a folder; give a file path.")
            return root
        try:
            with self._walk(root, rel, create=False) as (parent, name):
                info = _lstat(parent, name)
        except FileNotFoundError:  # a folder on the way does not exist yet
            info = None
        if info is None:
            return root / rel
        check_kind(path, info, write)
        return root / rel

    # -- the walk -------------------------------------------------------------------
    @contextlib.contextmanager
    def _walk(self, root: Path, rel: str, create: bool) -> Iterator[tuple[int, str]]:
        """Open every folder of `rel` but the last name, without following links.

        Yields the descriptor of the last folder and the last name. With `create`,
        missing folders are made (each checked the same way).
        """
        parts = rel.split("/")
        fd = os.open(root, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                try:
                    step = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    step = _open_dir(part, fd, rel)
                except OSError as exc:
                    raise _denied(rel, exc) from exc
                os.close(fd)
                fd = step
            yield fd, parts[-1]
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def folder(self, path: str, create: bool = False) -> Iterator[tuple[int, str]]:
        """The descriptor of `path`'s folder and its last name, for operations that stay there.

        Raises:
            PathDenied: the name is not allowed, or a link or non-folder is on the way.
            FileNotFoundError: a folder on the way is missing (and `create` is false).
        """
        root, rel = self.locate(path)
        if rel == ".":
            raise PathDenied(f"{path} is the workspace itself; give a file path.")
        with self._walk(root, rel, create) as found:
            yield found

    # -- operations -----------------------------------------------------------------
    def lstat(self, path: str) -> os.stat_result | None:
        """What `path` is (a link is reported as a link), or None when it does not exist."""
        try:
            with self.folder(path) as (parent, name):
                return _lstat(parent, name)
        except FileNotFoundError:
            return None

    def read_bytes(self, path: str, limit: int | None = None, *, honour_hidden: bool = True
                   ) -> bytes:
        """Read a regular file through the confined walk.

        `honour_hidden=False` is for the patch engine, which reads what a person chose
        to change; everything that feeds a prompt keeps the policy's read rules.

        Raises:
            FileNotFoundError: it does not exist.
            IsADirectoryError: it is a folder.
            PathDenied: anything else that is not allowed, with the reason.
        """
        if honour_hidden and self.hidden(rel := self.normalize(path)):
            raise PathDenied(f"The tool policy hides {rel}; it is not read.")
        with self.folder(path) as (parent, name):
            try:
                fd = os.open(name, _READ_FLAGS, dir_fd=parent)
            except (FileNotFoundError, IsADirectoryError):
                raise
            except OSError as exc:
                raise _denied(path, exc) from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a folder", path)
            check_kind(path, info, write=False)
            return handle.read() if limit is None else handle.read(limit)

    def write_bytes(self, path: str, data: bytes, mode: int | None = None) -> Path:
        """Replace a file's contents atomically: a temporary file beside it, fsync, rename.

        The file keeps its permission bits unless `mode` says otherwise; new files get
        0644 (less the umask) unless `mode` is given.
        """
        root, rel = self.locate(path)
        with self.folder(path, create=True) as (parent, name):
            info = _lstat(parent, name)
            if info is not None:
                check_kind(path, info, write=True)
            keep = stat.S_IMODE(info.st_mode) if info is not None else None
            temp = write_temp(parent, name, data, mode if mode is not None else keep)
            try:
                os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=parent)
                raise
            os.fsync(parent)
        return root / rel


def _open_dir(part: str, fd: int, rel: str) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _denied(rel, exc) from exc


def _lstat(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def write_temp(parent: int, name: str, data: bytes, mode: int | None) -> str:
    """A new file beside `name` holding `data`, fsynced; returns its name."""
    temp = f".{name[:200]}.{os.urandom(4).hex()}.sage-tmp"  # as secrets.token_hex
    fd = os.open(temp, _NEW_FLAGS, 0o666 if mode is None else 0o600, dir_fd=parent)
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        raise
    os.close(fd)
    return temp


def check_kind(path: str, info: os.stat_result, write: bool) -> None:
    """Refuse a link or a special file (and, for a write, a folder), with the reason."""
    if stat.S_ISLNK(info.st_mode):
        raise PathDenied(f"{path} is a symbolic link; SAGE neither follows nor replaces links.")
    if stat.S_ISDIR(info.st_mode):
        if write:
            raise PathDenied(f"{path} is a folder; give a file path.")
        return
    if not stat.S_ISREG(info.st_mode):
        raise PathDenied(f"{path} is a {_kind(info.st_mode)}, not a regular file.")


def _denied(path: str, exc: OSError) -> PathDenied:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return PathDenied(f"{path} goes through a symbolic link or a non-folder; SAGE does not "
                          "follow links.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PathDenied(f"{path} cannot be reached: {(exc.strerror or str(exc)).lower()}.")
    return PathDenied(f"{path} cannot be opened ({exc.strerror}).")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
