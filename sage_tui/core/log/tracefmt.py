"""One readable line per log record, for `sage trace` and the event stream.

Plain strings only (no styling: the caller colours by `category`). Each summary
says what happened in the words a user would use, not the payload's field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sage_tui.core.log.safetext import plain

MAX_SUMMARY = 160

# Colour groups for renderers: what kind of fact an event is.
CATEGORIES: dict[str, str] = {
    "SESSION_STARTED": "session", "SESSION_ENDED": "session",
    "USER_MESSAGE": "message", "ASSISTANT_MESSAGE": "message",
    "ROUTE_DECISION": "routing", "EXPERT_PACKET": "routing",
    "MODEL_ROUTING_DECISION": "model", "CONTEXT_CLAMPED": "model", "TOKEN_USAGE": "model",
    "TOOL_CALL": "tool", "TOOL_RESULT": "tool", "TOOL_ERROR": "error",
    "POLICY_DECISION": "policy", "PLAN_CREATED": "checkpoint",
    "HUMAN_CHECKPOINT_REACHED": "checkpoint", "CHECKPOINT_RESOLVED": "checkpoint",
    "PATCH_PROPOSED": "patch", "HUNK_DECISION": "patch", "PATCH_APPLIED": "patch",
    "PATCH_FAILED": "error", "PATCH_REVERTED": "patch", "TEST_RUN": "test", "ERROR": "error",
    "MODE_CHANGED": "checkpoint", "TURN_CANCELLED": "checkpoint", "PROMPT_REDACTED": "policy",
    "SESSION_RESUMED": "session", "SUMMARY_UPDATED": "model", "CONVERSATION_CLEARED": "message",
    "COMMIT_CREATED": "patch", "CONTEXT_CHANGED": "routing", "INDEX_PROGRESS": "routing",
}


def _one_line(text: Any, limit: int = 80) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _n(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "?"


def _turns(value: Any) -> str:
    return f"{_n(value)} turn{'' if _n(value) == '1' else 's'}"


def _ms(value: Any) -> str:
    try:
        return f"{float(value):,.0f} ms"
    except (TypeError, ValueError):
        return "? ms"


def _list(values: Any) -> str:
    if not values:
        return "none"
    if isinstance(values, list | tuple):
        return ", ".join(str(v) for v in values)
    return str(values)


def _tokens(d: Mapping[str, Any]) -> str:
    mark = "~" if d.get("estimated") or d.get("source") == "estimate" else ""
    return f"in {mark}{_n(d.get('prompt_tokens'))} out {mark}{_n(d.get('completion_tokens'))}"


def _plan(steps: list[Any], path: Any) -> str:
    text = f"{len(steps)} steps" + (f", saved to {path}" if path else "")
    return text + (f": {_one_line(steps[0], 60)}" if steps else "")


_FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "SESSION_STARTED": lambda d: (f"{d.get('mode', '?')} mode in "
                                  f"{str(d.get('workspace', '?')).rstrip('/').rsplit('/', 1)[-1]}"
                                  f"{' profile ' + str(d['profile']) if d.get('profile') else ''}"
                                  f" (sage {d.get('version', '?')})"),
    "SESSION_ENDED": lambda d: (f"{d.get('status', '?')} after {_turns(d.get('turns'))}, "
                                f"tokens {_tokens(d.get('tokens') or {})}"),
    "USER_MESSAGE": lambda d: f"you: {_one_line(d.get('text', ''))}",
    "ASSISTANT_MESSAGE": lambda d: f"{d.get('role', 'assistant')}: {_one_line(d.get('text', ''))}",
    "ROUTE_DECISION": lambda d: (f"→ {d.get('route', '?')} via {d.get('source', '?')} "
                                 f"({_ms(d.get('latency_ms'))}), experts {_list(d.get('experts'))}"
                                 + (f": {_one_line(d['reasoning'], 60)}" if d.get("reasoning") else "")),
    "EXPERT_PACKET": lambda d: (f"{d.get('expert', '?')}: {_n(d.get('chars'))} chars, "
                                + ("evidence" if d.get("evidence") else "no evidence")
                                + (f" ({_list(d.get('citations'))[:60]})" if d.get("citations") else "")),
    "MODEL_ROUTING_DECISION": lambda d: (f"{d.get('role', '?')} → {d.get('model', '?')} "
                                         f"at {d.get('host', '?')} ({d.get('reason', '?')})"),
    "CONTEXT_CLAMPED": lambda d: (f"{d.get('role', '?')} prompt {_n(d.get('before'))} → "
                                  f"{_n(d.get('after'))} (budget {_n(d.get('budget'))}), "
                                  f"dropped {_list(d.get('dropped'))}"),
    "TOKEN_USAGE": lambda d: (f"{d.get('role', '?')} {d.get('model', '?')} {_tokens(d)} "
                              f"({d.get('source', '?')}); session {_tokens(d.get('session') or {})}"),
    "TOOL_CALL": lambda d: (f"{d.get('tool', '?')}("
                            + _one_line(", ".join(f"{k}={v!r}" for k, v in
                                                  (d.get("args") or {}).items()), 70) + ")"),
    "TOOL_RESULT": lambda d: (f"{d.get('tool', '?')} {'ok' if d.get('ok') else 'failed'} "
                              f"in {_ms(d.get('ms'))}: {_one_line(d.get('summary', ''))}"),
    "TOOL_ERROR": lambda d: (f"{d.get('tool', '?')} {d.get('kind', '?')} (attempt "
                             f"{d.get('attempt', '?')}): {_one_line(d.get('message', ''), 60)}"
                             + (f" — try: {_one_line(d['suggestion'], 50)}" if d.get("suggestion") else "")),
    "POLICY_DECISION": lambda d: (f"{d.get('verdict', '?')} {d.get('tool', '?')} on "
                                  f"{d.get('target', '?')} (rule {d.get('rule', '?')})"),
    "PLAN_CREATED": lambda d: _plan(d.get("steps") or [], d.get("path")),
    "HUMAN_CHECKPOINT_REACHED": lambda d: (f"{d.get('checkpoint', '?')} checkpoint in "
                                           f"{d.get('mode', '?')} mode"
                                           + (", skipped" if d.get("skipped") else
                                              ", waiting" if d.get("blocking") else "")),
    "CHECKPOINT_RESOLVED": lambda d: (f"{d.get('checkpoint', '?')}: {d.get('decision', '?')}"
                                      + (f" — {_one_line(d['comment'], 60)}" if d.get("comment") else "")),
    "PATCH_PROPOSED": lambda d: (f"patch {d.get('patch_id', '?')}: {_n(d.get('hunks'))} hunks in "
                                 f"{_list(d.get('files'))}"),
    "HUNK_DECISION": lambda d: (f"patch {d.get('patch_id', '?')} hunk {d.get('hunk_id', '?')} "
                                f"{d.get('decision', '?')}"
                                + (f" — {_one_line(d['comment'], 60)}" if d.get("comment") else "")),
    "PATCH_APPLIED": lambda d: f"patch {d.get('patch_id', '?')} applied to {_list(d.get('files'))}",
    "PATCH_FAILED": lambda d: (f"patch {d.get('patch_id', '?')} failed"
                               + (f": {_one_line(d['reason'], 80)}" if d.get("reason") else "")),
    "PATCH_REVERTED": lambda d: f"patch {d.get('patch_id', '?')} reverted in {_list(d.get('files'))}",
    "TEST_RUN": lambda d: (f"`{_one_line(d.get('command', '?'), 40)}` exit {d.get('exit_code', '?')}: "
                           f"{_n(d.get('passed'))} passed, {_n(d.get('failed'))} failed "
                           f"in {_ms(d.get('ms'))}"),
    "MODE_CHANGED": lambda d: f"{d.get('from', '?')} → {d.get('to', '?')} by {d.get('by', '?')}",
    "TURN_CANCELLED": lambda d: f"turn {d.get('turn', '?')} stopped by {d.get('by', '?')}",
    "PROMPT_REDACTED": lambda d: (f"secrets redacted from {d.get('messages', '?')} message(s) "
                                  f"sent to {d.get('model', '?')} at {d.get('host', '?')}"),
    "SESSION_RESUMED": lambda d: (f"continued after {_turns(d.get('turns'))} in "
                                  f"{d.get('mode', '?')} mode, {_n(d.get('messages'))} messages"
                                  + (f", waiting {_list(d.get('waiting'))}" if d.get("waiting") else "")),
    "SUMMARY_UPDATED": lambda d: (f"summary of {_n(d.get('absorbed'))} messages: "
                                  f"{_one_line(d.get('text', ''), 60)}"),
    "CONVERSATION_CLEARED": lambda d: (f"new conversation by {d.get('by', '?')} "
                                       f"({_n(d.get('messages'))} messages set aside)"),
    "COMMIT_CREATED": lambda d: (f"commit {str(d.get('sha', '?'))[:10]}"
                                 + (f" reverts {str(d['reverts'])[:10]}" if d.get("reverts") else "")
                                 + f": {_one_line(str(d.get('message', '')).split(chr(10))[0], 60)}"),
    "CONTEXT_CHANGED": lambda d: (f"pinned: {_list(d.get('pinned'))}" if d.get("pinned")
                                  else "nothing pinned"),
    "INDEX_PROGRESS": lambda d: f"indexing the workspace: {d.get('done', '?')}/{d.get('total', '?')} files",
    "ERROR": lambda d: f"{d.get('where', '?')} {d.get('kind', '?')}: {_one_line(d.get('message', ''), 100)}",
}


def summary(record: Mapping[str, Any]) -> str:
    """A one-line description of a record's payload, safe for a terminal (never raises)."""
    data = record.get("data")
    if not isinstance(data, Mapping):
        data = {}
    formatter = _FORMATS.get(str(record.get("event")))
    try:
        text = formatter(data) if formatter else _generic(data)
    except Exception:  # a hand-edited or future payload: show it rather than fail
        text = _generic(data)
    return _one_line(plain(text), MAX_SUMMARY)


def _generic(data: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_one_line(v, 30)}" for k, v in data.items())


def parse_ts(ts: Any) -> datetime | None:
    """A record's `ts` (`2026-11-21T10:00:00.123Z`) in the local time zone; None if unreadable."""
    try:
        return datetime.fromisoformat(str(ts)).astimezone()
    except ValueError:
        return None


def local_time(ts: Any) -> str:
    """`2026-11-21T10:00:00.123Z` → `HH:MM:SS.mmm` in the local time zone."""
    moment = parse_ts(ts)
    if moment is None:
        return str(ts)[:12].ljust(12)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def local_datetime(ts: Any) -> str:
    """`2026-11-21T10:00:00.123Z` → `2026-11-21 11:00` in the local time zone."""
    moment = parse_ts(ts)
    return "?" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
