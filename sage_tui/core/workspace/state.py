"""Where SAGE keeps its state: a trusted folder per workspace, and the workspace's `.sage/`.

SAGE's trusted state (apply journal, undo records, audit log, patch lock, learned
lessons) lives in `<state>/workspaces/<key>/`, keyed by the workspace's real path, so
a repository cannot plant it. The workspace's own `.sage/` holds only what must
share its filesystem (staging, for atomic renames) and files meant for people
(`last_plan.json`). A repository controls that folder, so SAGE refuses a `.sage`
that is a symbolic link, holds one, or has files tracked by git, and reaches into it
only through directory descriptors that follow no link. It is listed in
`.git/info/exclude` (not `.gitignore`, which the user owns and commits).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sage_tui.core.errors import SageError
from sage_tui.core.workspace.gitcmd import git_argv, git_env
from sage_tui.core.workspace.workspace import PathDenied, write_temp

SAGE_DIR = ".sage"
_EXCLUDE_LINE = "/.sage/"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
MAX_DEPTH, MAX_ENTRIES = 8, 5000  # SAGE keeps staging/<id>/<n> there: far less than this


class WorkspaceRefused(SageError):
    """A folder SAGE will not work in as it stands; the message says why and what to do."""

    exit_code = 2


def _git(workspace: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(git_argv(*args, workspace=workspace), capture_output=True,
                             text=True, timeout=10, env=git_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_dir(workspace: Path) -> Path | None:
    """The repository's git folder (worktrees and submodules included), or None."""
    text = _git(workspace, "rev-parse", "--git-common-dir")
    if text is None:
        return None
    path = Path(text)
    return path if path.is_absolute() else (workspace / path).resolve()


def check_workspace(workspace: Path) -> Path:
    """`workspace` if SAGE may work in it; a bare repository or a git folder is refused.

    Raises:
        WorkspaceRefused: naming the problem and the fix.
    """
    parts = {part.lower() for part in workspace.resolve().parts}
    answers = (_git(workspace, "rev-parse", "--is-inside-git-dir", "--is-bare-repository")
               or "").split()  # one git process: "true"/"false" for each question
    if ".git" in parts or "true" in answers:
        raise WorkspaceRefused(
            f"{workspace} is a git folder or a bare repository, not a working tree; patches "
            "there would change hooks and config that git runs. Open SAGE in a checkout "
            "(`git clone` or `git worktree add` one).")
    return workspace


def workspace_key(workspace: Path) -> str:
    """A folder name for a workspace: its name and a hash of its real path."""
    real = str(workspace.resolve())
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(real).name)[:40] or "root"
    return f"{name}-{hashlib.sha256(real.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def workspace_state(state_root: Path, workspace: Path) -> Path:
    """SAGE's trusted folder for `workspace` under `state_root` (created, private)."""
    folder = state_root / "workspaces" / workspace_key(workspace)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


class SageFolder:
    """The workspace's `.sage/`, checked before use and reached without following links."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.path = workspace / SAGE_DIR
        self._checked = False
        self._excluded = False

    def check(self) -> None:
        """Refuse a `.sage` that is a link or not a folder, holds a link, or is tracked by git.

        Raises:
            WorkspaceRefused: with the fix.
        """
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
            raise WorkspaceRefused(
                f"{self.path} is {kind}; SAGE keeps its staging there and will not follow or "
                f"replace it. Remove it (`rm {self.path}`) and run SAGE again.")
        tracked = _git(self.workspace, "ls-files", "--", SAGE_DIR)
        if tracked:
            first = tracked.splitlines()[0]
            raise WorkspaceRefused(
                f"{first} is tracked by git, so the repository controls SAGE's folder; untrack "
                f"it (`git rm -r --cached {SAGE_DIR}`, then commit) and run SAGE again.")
        try:
            self._scan()
        except OSError as exc:
            raise WorkspaceRefused(f"{self.path} cannot be checked ({exc.strerror or exc}); "
                                   f"remove it (SAGE makes it again) and run SAGE again.") from exc
        self._checked = True

    def _scan(self) -> None:
        """Walk `.sage` (bounded, without following links) and refuse any link in it."""
        root = os.open(self.workspace, _DIR_FLAGS)
        try:
            first = os.open(SAGE_DIR, _DIR_FLAGS, dir_fd=root)
        finally:
            os.close(root)
        pending = [(first, self.path, 0)]
        seen = 0
        try:
            while pending:
                fd, where, depth = pending.pop()
                try:
                    for name in os.listdir(fd):
                        seen += 1
                        if depth > MAX_DEPTH or seen > MAX_ENTRIES:
                            raise WorkspaceRefused(
                                f"{self.path} holds more than SAGE ever puts there; remove it "
                                "(SAGE makes it again) and run SAGE again.")
                        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
                        if stat.S_ISLNK(mode):
                            raise WorkspaceRefused(
                                f"{where / name} is a symbolic link; SAGE's folder must hold none. "
                                f"Remove {self.path} and run SAGE again.")
                        if stat.S_ISDIR(mode):
                            pending.append((os.open(name, _DIR_FLAGS, dir_fd=fd), where / name,
                                            depth + 1))
                finally:
                    os.close(fd)
        finally:
            for fd, _, _ in pending:
                os.close(fd)

    @contextlib.contextmanager
    def open(self, *names: str, fresh: bool = False) -> Iterator[int]:
        """A descriptor of `.sage/<names...>`, each folder made if missing, no link followed.

        With `fresh`, the last folder must be new: one that already exists (planted) is
        refused. The first open checks the folder (`check`); every open walks without
        following a link, so a link swapped in later is refused by the walk itself.
        """
        if not self._checked:
            self.check()
            self._checked = True
        fd = os.open(self.workspace, _DIR_FLAGS)
        try:
            for name in (SAGE_DIR, *names):
                if "/" in name or name in ("", ".", ".."):
                    raise ValueError(f"not a plain folder name: {name!r}")
                try:
                    try:
                        os.mkdir(name, 0o700, dir_fd=fd)
                    except FileExistsError:
                        if fresh and name == names[-1]:
                            raise
                    step = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise PathDenied(
                        f"Cannot write SAGE's staging folder {self.path} "
                        f"({(exc.strerror or str(exc)).lower()}); the workspace must be "
                        "writable to apply changes, and nothing was changed.") from exc
                os.close(fd)
                fd = step
            yield fd
        finally:
            os.close(fd)
        if not self._excluded:
            self._excluded = True
            self._exclude()

    def write(self, name: str, data: bytes) -> Path:
        """Write a file meant for people (`last_plan.json`) into `.sage/`, atomically."""
        with self.open() as fd:
            os.rename(write_temp(fd, name, data, 0o600), name, src_dir_fd=fd, dst_dir_fd=fd)
        return self.path / name

    def _exclude(self) -> None:
        """List `.sage/` in `.git/info/exclude`, never writing through a link or outside.

        Only the workspace's own `.git` folder is written: a `.git` file (a worktree, or a
        planted `gitdir:` line) could name any folder.
        """
        git = self.workspace / ".git"
        if git_dir(self.workspace) != git.resolve() or git.is_symlink() or not git.is_dir():
            return
        with contextlib.suppress(OSError):
            fd = os.open(git, _DIR_FLAGS)
            try:
                with contextlib.suppress(FileExistsError):
                    os.mkdir("info", 0o755, dir_fd=fd)
                info = os.open("info", _DIR_FLAGS, dir_fd=fd)
            finally:
                os.close(fd)
            try:
                handle = os.open("exclude", os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW,
                                 0o644, dir_fd=info)
            finally:
                os.close(info)
            if os.fstat(handle).st_nlink != 1:  # a hard link would write elsewhere too
                os.close(handle)
                return
            with os.fdopen(handle, "r+b") as file:
                current = file.read().decode("utf-8", "replace")
                if _EXCLUDE_LINE not in current.splitlines():
                    sep = "" if not current or current.endswith("\n") else "\n"
                    file.write(f"{sep}# SAGE's staging and plan files\n{_EXCLUDE_LINE}\n".encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a temporary file beside it, fsync, its mode kept, rename.

    For SAGE's own state folder, which no repository controls; files in the workspace
    go through `Workspace` instead.
    """
    import tempfile  # a write: read-only checks start without it

    mode = None
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".sage-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON durably: `atomic_write_bytes`, creating the folder first."""
    import json  # not at import: `sage apply --check` starts without it

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        encoded = (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
    except UnicodeEncodeError:  # a non-UTF-8 name or byte: JSON escapes round-trip it
        encoded = (json.dumps(data, indent=2) + "\n").encode()
    atomic_write_bytes(path, encoded)
