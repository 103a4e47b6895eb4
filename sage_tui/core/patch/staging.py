"""Trying a change on a private copy with git, and staging its results for the renames.

`try_on_copy` runs `git apply` where nothing in the workspace or the user's git
configuration can reach it; `stage` writes each result into SAGE's staging folder in the
workspace (the same file system, so the journal's renames are atomic), and `sync_all`
makes them durable before the journal names them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sage_tui.core.workspace.gitcmd import git_argv, git_env

GIT_TIMEOUT = 120
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Outcome:
    """A file after a change: its bytes (None: deleted) and permission bits."""

    data: bytes | None
    mode: int | None


def try_on_copy(diff: str, contents: Mapping[str, bytes | None], modes: Mapping[str, int | None],
                root: Path, reverse: bool = False) -> tuple[dict[str, Outcome] | None, str]:
    """Run `git apply` on a copy of `contents` in a private folder under `root`.

    Returns each file's outcome, or None and git's error. That git reads no repository,
    configuration or attributes: nothing the patch brings can run a command or change bytes.
    """
    try:
        scratch = private_folder(root, "sage-scratch-")
    except OSError as exc:  # a full or read-only /dev/shm or state folder
        return None, f"the change cannot be tried on a copy ({exc.strerror or exc})"
    tree = scratch / "tree"  # the files; git's folder and home sit beside it, out of reach
    try:
        tree.mkdir()
        for path, data in contents.items():
            if data is not None:
                target = tree / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if modes.get(path) is not None:
                    os.chmod(target, modes[path])  # type: ignore[arg-type]
        args = git_argv("apply", "--recount", "--unidiff-zero", "--whitespace=nowarn",
                        *(["--reverse"] if reverse else []))
        env = git_env(isolated_home=scratch, extra={
            "GIT_DIR": str(scratch / "no-git"), "GIT_CEILING_DIRECTORIES": str(scratch),
            "GIT_ATTR_NOSYSTEM": "1"})
        proc = subprocess.run(args, input=diff.encode("utf-8", "surrogateescape"),
                              cwd=tree, capture_output=True, timeout=GIT_TIMEOUT, env=env)
        if proc.returncode != 0:
            return None, proc.stderr.decode("utf-8", "replace").strip() or "git apply failed"
        outcomes = {}
        for path in contents:
            result = tree / path
            if result.is_file():
                outcomes[path] = Outcome(result.read_bytes(), result.stat().st_mode & 0o777)
            else:
                outcomes[path] = Outcome(None, None)
        return outcomes, ""
    except subprocess.TimeoutExpired:
        return None, f"git apply took longer than {GIT_TIMEOUT} s"
    except OSError as exc:  # a name too long for the copy, a full disk
        return None, f"the change cannot be tried on a copy ({exc.strerror or exc})"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def private_folder(root: Path, prefix: str) -> Path:
    """A new folder under `root` that only its owner can enter, under a name no one can
    guess: what `tempfile.mkdtemp` makes (mode 0700, never an existing folder or link), by
    the same means, without loading tempfile and its random module into every check."""
    root = Path(os.path.abspath(root))  # git runs inside it, and reads its paths from there
    for _ in range(100):
        folder = root / f"{prefix}{os.urandom(8).hex()}"
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free name for a scratch folder in {root}")


def scratch_root(state: Path) -> Path:
    """Where git tries a change: memory (`/dev/shm`, a private folder in it) when there is
    one, else the state folder. It never needs the workspace's file system."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else state


def stage(staging: int, name: str, outcome: Outcome) -> int:
    """Write one staged file in SAGE's staging folder; returns it open, for `sync_all`."""
    assert outcome.data is not None
    fd = os.open(name, _NEW, 0o600, dir_fd=staging)
    try:
        view = memoryview(outcome.data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, outcome.mode if outcome.mode is not None else 0o644)
    except BaseException:
        os.close(fd)
        raise
    return fd


def sync_all(fds: list[int]) -> None:
    """Make staged files durable before the journal names them, several at a time (the disk
    serves parallel flushes faster than one after another)."""
    sync = getattr(os, "fdatasync", os.fsync)
    try:
        if len(fds) > 2:
            from concurrent.futures import ThreadPoolExecutor  # only for many files

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(sync, fds))
        else:
            for fd in fds:
                sync(fd)
    finally:
        for fd in fds:
            os.close(fd)


def remove_tree(parent: int, name: str) -> None:
    """Remove a staging folder (or file) below `parent` without following links."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except NotADirectoryError:
        os.unlink(name, dir_fd=parent)
        return
    except OSError:
        os.unlink(name, dir_fd=parent)  # a link: remove the link itself
        return
    try:
        for child in os.listdir(fd):
            remove_tree(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)

