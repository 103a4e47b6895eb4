"""Test doubles and helper programs. Nothing in `sage_tui/` imports from here."""

from __future__ import annotations

from pathlib import Path

from sage_tui.paths import sage_paths


def sessions_dir() -> Path:
    """The session-log folder under this test's `SAGE_HOME`."""
    return sage_paths().sessions
