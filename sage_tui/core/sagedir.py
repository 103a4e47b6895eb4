"""The workspace's `.sage/` folder: SAGE's per-project state, kept out of the user's commits.

It is listed in `.git/info/exclude` (not `.gitignore`, which the user owns and commits).
"""

from __future__ import annotations

import json
import os
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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
