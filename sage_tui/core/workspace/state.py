"""The workspace's `.sage/` folder: SAGE's per-project state, kept out of the user's commits.

It is listed in `.git/info/exclude` (not `.gitignore`, which the user owns and commits).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SAGE_DIR = ".sage"
_EXCLUDE_LINE = "/.sage/"


def git_dir(workspace: Path) -> Path | None:
    """The repository's git folder (worktrees and submodules included), or None."""
    try:
        out = subprocess.run(["git", "-C", str(workspace), "rev-parse", "--git-common-dir"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    path = Path(out.stdout.strip())
    return path if path.is_absolute() else (workspace / path).resolve()


def ensure_sage_dir(workspace: Path) -> Path:
    """Create `<workspace>/.sage/` and make git ignore it locally; return its path."""
    folder = workspace / SAGE_DIR
    folder.mkdir(exist_ok=True)
    git = git_dir(workspace)
    if git is not None:
        exclude = git / "info" / "exclude"
        try:
            current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
            if _EXCLUDE_LINE not in current.splitlines():
                exclude.parent.mkdir(parents=True, exist_ok=True)
                sep = "" if not current or current.endswith("\n") else "\n"
                with exclude.open("a", encoding="utf-8") as handle:
                    handle.write(f"{sep}# SAGE's per-project state\n{_EXCLUDE_LINE}\n")
        except OSError:
            pass  # read-only repository: .sage/ still works, git merely shows it
    return folder


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a temporary file beside it, fsync, its mode kept, rename.

    A hard link to `path` is replaced, never written through.
    """
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
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode())
