"""`sage trace`: the session log in the terminal, one readable line per event."""

from __future__ import annotations

import fnmatch
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from sage_tui.commands.output import note, print_json
from sage_tui.core.errors import UsageError
from sage_tui.core.log.events import EVENT_NAMES
from sage_tui.core.log.safetext import plain
from sage_tui.core.log.sessionlog import TornTailWarning
from sage_tui.core.log.sessions import Resolved, SessionSummary, list_sessions, resolve
from sage_tui.core.log.tracefmt import CATEGORIES, local_datetime, local_time, summary
from sage_tui.paths import sage_paths

COLOURS = {
    "session": "bright_blue", "message": "white", "routing": "magenta", "model": "cyan",
    "tool": "green", "policy": "yellow", "checkpoint": "yellow", "patch": "blue",
    "test": "green", "error": "red",
}


def _event_filter(patterns: tuple[str, ...]) -> set[str] | None:
    if not patterns:
        return None
    chosen: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(EVENT_NAMES, pattern.upper())
        if not matched:
            raise UsageError(f"--event {pattern!r} matches no event; events are "
                             f"{', '.join(sorted(EVENT_NAMES))}.")
        chosen.update(matched)
    return chosen


def _home_relative(path: str | None) -> str:
    if not path:
        return "?"
    home = str(Path.home())
    return "~" + path[len(home):] if path == home or path.startswith(home + "/") else path


def print_sessions(sessions: list[SessionSummary]) -> None:
    if not sessions:
        click.echo("No sessions recorded yet; they appear here once `sage` or `sage run` has run.")
        return
    click.echo(click.style(f"{'SESSION':<24} {'STARTED':<16} {'TURNS':>5} {'TOKENS IN/OUT':>15} "
                           f"{'STATUS':<9} WORKSPACE", bold=True))
    for s in sessions:
        mark = "~" if s.estimated else ""
        tokens = f"{mark}{s.prompt_tokens:,}/{mark}{s.completion_tokens:,}"
        click.echo(f"{s.session_id:<24} {local_datetime(s.started):<16} {s.turns:>5} "
                   f"{tokens:>15} {s.status:<9} {_home_relative(s.workspace)}")


def session_json(s: SessionSummary) -> dict[str, Any]:
    """One session as `sage trace --json` lists it (docs/cli.md: stable keys)."""
    return {"session_id": s.session_id, "started": s.started, "last": s.last,
            "workspace": s.workspace, "mode": s.mode, "command": s.command, "turns": s.turns,
            "tokens": {"prompt": s.prompt_tokens, "completion": s.completion_tokens,
                       "estimated": s.estimated},
            "status": s.status, "first_message": s.first_message}


def _line(record: dict[str, Any], show_session: bool) -> str:
    event = plain(str(record.get("event", "?")))
    colour = COLOURS.get(CATEGORIES.get(event, ""))
    session = f"{plain(str(record.get('session_id', '?')))[-6:]} " if show_session else ""
    return (f"{local_time(record.get('ts'))} {session}t{record.get('turn', '?'):<3} "
            + click.style(f"{event:<24}", fg=colour) + " " + summary(record))


def _emit(records: Iterable[dict[str, Any]], wanted: set[str] | None, as_json: bool,
          show_session: bool) -> None:
    for record in records:
        if wanted is not None and record.get("event") not in wanted:
            continue
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        else:
            click.echo(_line(record, show_session))


def _header(target: Resolved) -> None:
    if target.kind == "trace":
        note(f"trace {target.name}: {len(target.sessions)} session(s), merged by time", bold=True)


def run_trace(ref: str | None, events: tuple[str, ...], *, as_json: bool, follow: bool,
              limit: int) -> None:
    """Implement `sage trace` (see `sage trace --help`)."""
    wanted = _event_filter(events)
    if ref is None:
        if follow:
            raise UsageError("--follow needs a session to follow; `sage trace` lists them.")
        sessions = list_sessions(sage_paths().sessions, limit=limit)
        if as_json:
            print_json(True, sessions=[session_json(s) for s in sessions])
        else:
            print_sessions(sessions)
        return
    target = resolve(ref, sage_paths().sessions)
    if not as_json:
        _header(target)
    if follow:
        _emit(_follow(target), wanted, as_json, show_session=target.kind == "trace")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TornTailWarning)
        _emit(target.reader(), wanted, as_json, show_session=target.kind == "trace")
    for warning in caught:
        note(f"Note: {warning.message}.", fg="yellow")


def _follow(target: Resolved) -> Iterator[dict[str, Any]]:
    from sage_tui.core.log.follow import follow, follow_trace

    try:
        if target.kind == "trace":  # every session carrying it, those started later too
            yield from follow_trace(target.name, sage_paths().sessions)
        else:
            yield from follow(target.sessions[0])
    except KeyboardInterrupt:
        return
