"""A scratch git repository for the smoke run's code turn."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


def git_repo(path: Path, files: Mapping[str, str]) -> Path:
    """A git repository at `path` with `files` committed."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=Test", "-c",
                    "user.email=test@example.invalid", "commit", "-qm", "initial"], check=True)
    return path
