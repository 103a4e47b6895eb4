"""The apply journal: the renames that turn staged files into the new tree, written first.

Once the journal is on disk, the change is promised: `replay_journal` (run after a crash)
finishes every rename it names, so the files end all-before or all-after.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from sage_tui.core.log.logfiles import fsync_dir
from sage_tui.core.workspace.state import write_json_atomic


def commit_journal(journal: Path, root: Path, undo_id: str, entries: list[dict[str, Any]]) -> None:
    """Write the journal, do its renames and deletions in `root`, then remove it."""
    write_json_atomic(journal, {"undo_id": undo_id, "entries": entries})
    fsync_dir(journal.parent)
    for entry in entries:  # from here on, replay_journal() completes the change
        target = root / entry["path"]
        if entry["delete"]:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        else:
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(entry["staged"], target)
    fsync_dir(root)
    journal.unlink()


def replay_journal(journal: Path, staging: Path, root: Path) -> bool:
    """Finish the renames of a journal left by an interrupted apply; True if there was one.

    Staged files without a journal belong to an apply that never started touching
    the tree: they are removed.
    """
    completed = False
    if journal.exists():
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))["entries"]
        except (OSError, ValueError, KeyError):
            entries = []
        for entry in entries:
            target = root / entry["path"]
            staged = Path(entry["staged"]) if entry.get("staged") else None
            if staged is not None and staged.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
            elif staged is None and target.exists() and entry.get("delete"):
                target.unlink()
        fsync_dir(root)
        journal.unlink()
        completed = True
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
    return completed
