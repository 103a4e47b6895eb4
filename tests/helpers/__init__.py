"""Test doubles and helper programs. Nothing in `sage_tui/` imports from here."""

from __future__ import annotations

from pathlib import Path

from sage_tui.paths import sage_paths


def sessions_dir() -> Path:
    """The session-log folder under this test's `SAGE_HOME`."""
    return sage_paths().sessions


def state_of(workspace: Path, home: Path | None = None) -> Path:
    """SAGE's trusted state folder for `workspace` (audit, undo records, lessons)."""
    from sage_tui.core.workspace.state import workspace_state

    return workspace_state(sage_paths(home).state, workspace)
