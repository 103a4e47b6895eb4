"""Finding recorded sessions: listing, resolving a reference, trace merges.

A reference (what `sage trace` takes) is tried as, in order: a file path, a session
id, a unique session-id prefix, then a trace id carried by one or more sessions.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage_tui.core.errors import UsageError
from sage_tui.core.log.logfiles import PART_NAME_RE, find_in_file, parse_record, session_parts
from sage_tui.core.log.sessionlog import SessionNotFound, SessionReader, find_session_files

_SUMMARY_TAIL_BYTES = 1 << 20


@dataclass(frozen=True)
class SessionSummary:
    """What `sage trace` lists about one recorded session."""

    session_id: str
    started: str | None
    workspace: str | None
    mode: str | None
    turns: int
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    status: str  # "ok", "failed", ... from SESSION_ENDED, or "open"
    command: str | None = None  # `apply`, `review`, `undo`...: not a conversation
    first_message: str = ""  # the person's first message, for the resume picker
    last: str | None = None  # the time of its newest record


def _session_ids(directory: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    if not directory.is_dir():
        return found
    for path in directory.iterdir():
        match = PART_NAME_RE.match(path.name)
        if match:
            found.setdefault(match["id"], []).append(path)
    return found


def _first_record(path: Path) -> dict[str, Any] | None:
    with path.open("rb") as handle:
        return parse_record(handle.readline())


def _first_message(path: Path, within: int = _SUMMARY_TAIL_BYTES) -> str:
    """The first USER_MESSAGE's text among the first `within` bytes of a session."""
    seen = 0
    with path.open("rb") as handle:
        for raw in handle:  # line by line: a session usually says it in its first records
            seen += len(raw)
            if seen > within:
                break
            if b'"USER_MESSAGE"' in raw:
                record = parse_record(raw)
                if record is not None and record.get("event") == "USER_MESSAGE":
                    return str((record.get("data") or {}).get("text", ""))
    return ""


def _tail_records(path: Path) -> list[dict[str, Any]]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _SUMMARY_TAIL_BYTES))
        data = handle.read()
    lines = data.split(b"\n")
    if size > _SUMMARY_TAIL_BYTES:
        lines = lines[1:]  # the first piece may start mid-line
    return [r for r in map(parse_record, lines) if r is not None]


def summarize_session(directory: Path, session_id: str) -> SessionSummary:
    """Read a session's first record and the tail of its last part."""
    parts = session_parts(directory, session_id)
    first = _first_record(parts[0]) if parts else None
    started = first.get("data", {}) if first and first.get("event") == "SESSION_STARTED" else {}
    turns = prompt = completion = 0
    estimated = False
    status = "open"
    last = None
    for record in _tail_records(parts[-1]) if parts else []:
        last = record.get("ts") or last
        turns = max(turns, int(record.get("turn") or 0))
        data = record.get("data") or {}
        totals = None
        if record.get("event") == "TOKEN_USAGE":
            totals = data.get("session")
            estimated = estimated or data.get("source") == "estimate"
        elif record.get("event") == "SESSION_ENDED":
            totals = data.get("tokens")
            status = str(data.get("status", "ok"))
            turns = max(turns, int(data.get("turns") or 0))
        elif record.get("event") in ("SESSION_STARTED", "SESSION_RESUMED"):
            status = "open"
        if isinstance(totals, dict):
            prompt = int(totals.get("prompt_tokens") or 0)
            completion = int(totals.get("completion_tokens") or 0)
            estimated = estimated or bool(totals.get("estimated"))
    return SessionSummary(
        session_id=session_id,
        started=first.get("ts") if first else None,
        workspace=started.get("workspace"),
        mode=started.get("mode"),
        turns=turns,
        prompt_tokens=prompt,
        completion_tokens=completion,
        estimated=estimated,
        status=status,
        command=started.get("command"),
        last=last,
        first_message=_first_message(parts[0]) if parts else "",
    )


def list_sessions(directory: Path, limit: int | None = 20, prefix: str = "") -> list[SessionSummary]:
    """Recorded sessions in `directory` (those whose id starts with `prefix`), most recently
    written first."""
    ids = {sid: parts for sid, parts in _session_ids(directory).items() if sid.startswith(prefix)}
    newest = sorted(ids, key=lambda sid: max(p.stat().st_mtime for p in ids[sid]), reverse=True)
    return [summarize_session(directory, sid) for sid in newest[:limit]]


def resumable(directory: Path, workspace: Path, limit: int | None = 50) -> list[SessionSummary]:
    """Conversations recorded in `workspace` (not `sage apply`/`review`/`undo` runs), most
    recently written first: what `sage --continue` and `sage resume` choose from."""
    root = str(workspace)
    ids = _session_ids(directory)
    found: list[SessionSummary] = []
    for sid in sorted(ids, key=lambda i: max(p.stat().st_mtime for p in ids[i]), reverse=True):
        parts = session_parts(directory, sid)
        first = _first_record(parts[0]) if parts else None
        data = (first or {}).get("data") or {}
        if data.get("workspace") == root and not data.get("command"):  # cheap: one line
            found.append(summarize_session(directory, sid))
            if limit is not None and len(found) >= limit:
                break
    return found


def latest_session(directory: Path, workspace: Path) -> str | None:
    """The id of the newest conversation recorded in `workspace` (`--continue`), if any."""
    found = resumable(directory, workspace, limit=1)
    return found[0].session_id if found else None


def resumable_session(ref: str, directory: Path, workspace: Path) -> str:
    """The id of the session `ref` names (an id or a unique prefix), checked to be a
    conversation recorded in `workspace`.

    Raises:
        UsageError: a trace id, a `sage apply`-like run, or another workspace's session.
        SessionNotFound: nothing matches.
    """
    target = resolve(ref, directory)
    if target.kind != "session":
        raise UsageError(f"{ref!r} is a trace id, not one session; `sage resume` without an id "
                         "lists this workspace's sessions.")
    match = PART_NAME_RE.match(target.sessions[0][0].name)
    session_id = match["id"] if match else target.name
    summary = summarize_session(directory, session_id)
    if summary.command:
        raise UsageError(f"Session {session_id} is a `sage {summary.command}` run, not a "
                         "conversation; there is nothing to continue.")
    if summary.workspace and Path(summary.workspace).resolve() != workspace:
        raise UsageError(f"Session {session_id} was recorded in {summary.workspace}, not here "
                         f"({workspace}); continue it there.")
    return session_id


@dataclass(frozen=True)
class Resolved:
    """What a reference named: one session's files, or a trace across sessions."""

    kind: str  # "session" or "trace"
    name: str
    sessions: tuple[tuple[Path, ...], ...]

    def reader(self) -> Iterator[dict[str, Any]]:
        """The records: one session in order, or a trace's records merged by time."""
        if self.kind == "session":
            return iter(SessionReader(list(self.sessions[0])))
        streams = [
            (r for r in SessionReader(list(parts)) if r.get("trace_id") == self.name)
            for parts in self.sessions
        ]
        return heapq.merge(*streams, key=lambda r: (str(r.get("ts", "")), r.get("seq", 0)))


def trace_needle(trace_id: str) -> bytes:
    """The bytes a record carrying `trace_id` holds, as the log writes them."""
    return b'"trace_id":' + json.dumps(trace_id, ensure_ascii=False).encode()


def resolve(ref: str, directory: Path) -> Resolved:
    """Resolve a file path, session id, unique id prefix or trace id.

    Raises:
        UsageError: a prefix matches several sessions.
        SessionNotFound: nothing matches.
    """
    candidate = Path(ref).expanduser()
    if candidate.is_file():
        return Resolved("session", candidate.name, (tuple(find_session_files(candidate)),))
    ids = _session_ids(directory)
    if ref in ids:
        return Resolved("session", ref, (tuple(session_parts(directory, ref)),))
    prefixed = sorted(sid for sid in ids if sid.startswith(ref)) if ref else []
    if len(prefixed) == 1:
        return Resolved("session", prefixed[0], (tuple(session_parts(directory, prefixed[0])),))
    if len(prefixed) > 1:
        shown = ", ".join(prefixed[:5]) + (" ..." if len(prefixed) > 5 else "")
        raise UsageError(f"{ref!r} matches {len(prefixed)} sessions ({shown}); give more of the id.")
    needle = trace_needle(ref)
    carriers = []
    for sid in sorted(ids):  # each file read a chunk at a time: memory stays bounded
        parts = session_parts(directory, sid)
        if any(find_in_file(part, needle)[0] for part in parts):
            carriers.append(tuple(parts))
    if carriers:
        return Resolved("trace", ref, tuple(carriers))
    raise SessionNotFound(
        f"No session, log file or trace id {ref!r} was found under {directory}; "
        "`sage trace` lists recorded sessions."
    )


__all__ = [
    "Resolved",
    "SessionNotFound",
    "SessionSummary",
    "latest_session",
    "list_sessions",
    "resolve",
    "resumable",
    "resumable_session",
    "summarize_session",
    "trace_needle",
]
