"""Test doubles and helper programs. Nothing in `sage_tui/` imports from here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sage_tui.paths import sage_paths


def sessions_dir() -> Path:
    """The session-log folder under this test's `SAGE_HOME`."""
    return sage_paths().sessions


def state_of(workspace: Path, home: Path | None = None) -> Path:
    """SAGE's trusted state folder for `workspace` (audit, undo records, lessons)."""
    from sage_tui.core.workspace.state import workspace_state

    return workspace_state(sage_paths(home).state, workspace)


def as_events(events: list[Any]) -> Callable[[dict[str, Any]], None]:
    """A record subscriber that keeps each record as an `Event` (its name, its redacted data
    and its turn): what every consumer of the recorder sees, in the shape tests assert on."""
    from sage_tui.core.log.events import Event, EventName

    return lambda record: events.append(Event(EventName(record["event"]), record["data"],
                                              record["turn"]))
