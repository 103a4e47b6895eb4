"""Golden traces: session logs checked for ordering rules and compared with an expectation.

A golden trace is a JSONL session log with its volatile fields ignored (timestamps,
ids, durations, temporary paths). Two things are checked:

* the ordering rules of DESIGN.md §3, on any trace: the session starts first and ends
  last; every model call is MODEL_ROUTING_DECISION → (CONTEXT_CLAMPED) → TOKEN_USAGE;
  every checkpoint reached is resolved before the next one; a patch is proposed, then
  its hunks decided, then applied or failed;
* the comparison of a trace with its expectation, in one of four modes: `strict` (the
  same events in the same order), `unordered` (the same events, any order), `subset`
  (the expectation's events appear in the trace, in order) and `superset` (the trace's
  events all appear in the expectation, in order).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = ("strict", "unordered", "subset", "superset")
VOLATILE = frozenset({"ts", "seq", "session_id", "trace_id", "latency_ms", "ms", "undo_id",
                      "workspace", "path", "command", "version", "created", "host",
                      "prompt_estimate", "estimator", "diff", "output"})
MODEL_CALL = ("MODEL_ROUTING_DECISION", "CONTEXT_CLAMPED", "TOKEN_USAGE")
# Also volatile between two real sessions (`sage eval diff`): ids and token counts.
SESSION_VOLATILE = VOLATILE | frozenset({
    "call_id", "prompt_tokens", "completion_tokens", "session", "tokens", "patch_id",
    "hunk_sha", "text", "reasoning", "chars", "citations", "answer", "summary", "args",
    "steps", "comment", "description", "message", "before", "after", "dropped", "budget"})
SHIPPED = Path(__file__).with_name("goldens")


def shipped() -> list[Path]:
    """The goldens that come with SAGE: every spec, then the traces without one."""
    specs = sorted(SHIPPED.glob("*.yaml"))
    traces = [t for t in sorted(SHIPPED.glob("*.jsonl")) if not t.with_suffix(".yaml").exists()]
    return [*specs, *traces]


def normalize(record: dict[str, Any], volatile: frozenset[str] = VOLATILE) -> dict[str, Any]:
    """A record without what changes from run to run.

    Volatile names are dropped from the payload's top level only: PLAN_CREATED's `path`
    is a temporary file, but a TOOL_CALL's `args.path` is part of what happened.
    """
    data = record.get("data") or {}
    return {"turn": record.get("turn"), "event": record.get("event"),
            "data": {k: v for k, v in data.items() if k not in volatile}}


def line(record: dict[str, Any], volatile: frozenset[str] = VOLATILE) -> str:
    return json.dumps(normalize(record, volatile), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Violation:
    """An ordering rule broken at a place in a trace."""

    index: int
    rule: str

    def describe(self, records: Sequence[dict[str, Any]]) -> str:
        return f"event {self.index + 1} ({records[self.index].get('event')}): {self.rule}"


def check_order(records: Sequence[dict[str, Any]]) -> list[Violation]:
    """Every broken ordering rule, in trace order."""
    problems: list[Violation] = []
    if not records:
        return [Violation(0, "the trace is empty")]
    names = [str(r.get("event")) for r in records]
    if names[0] != "SESSION_STARTED":
        problems.append(Violation(0, "a session must start with SESSION_STARTED"))
    if names[-1] != "SESSION_ENDED":
        problems.append(Violation(len(names) - 1, "a session must end with SESSION_ENDED"))
    calls: dict[str, list[str]] = {}
    last: dict[str, int] = {}  # call id → its last event
    open_checkpoint: tuple[int, str] | None = None
    patches: dict[str, str] = {}  # patch_id → "proposed" / "decided" / "done"
    for index, record in enumerate(records):
        name, data = names[index], record.get("data") or {}
        if name == "MODEL_ROUTING_DECISION" and data.get("reason") == "user" \
                and "call_id" not in data:
            continue  # `/model`: the person's choice for later calls, not a call
        if name in MODEL_CALL:
            call = str(data.get("call_id", f"#{index}"))
            seen = calls.setdefault(call, [])
            expected = "MODEL_ROUTING_DECISION" if not seen else (
                "CONTEXT_CLAMPED or TOKEN_USAGE" if seen[-1] == "MODEL_ROUTING_DECISION"
                else "TOKEN_USAGE")
            if name not in expected or seen[-1:] == ["TOKEN_USAGE"]:
                problems.append(Violation(index, f"model call {call}: expected {expected} after "
                                          f"{' → '.join(seen) or 'nothing'}"))
            seen.append(name)
            last[call] = index
        elif name == "HUMAN_CHECKPOINT_REACHED":
            if open_checkpoint is not None:
                problems.append(Violation(index, f"checkpoint {open_checkpoint[1]!r} reached at "
                                          f"event {open_checkpoint[0] + 1} was never resolved"))
            open_checkpoint = (index, str(data.get("checkpoint")))
        elif name == "CHECKPOINT_RESOLVED":
            if open_checkpoint is None or open_checkpoint[1] != data.get("checkpoint"):
                problems.append(Violation(index, "a checkpoint was resolved without being reached"))
            open_checkpoint = None
        elif name == "PATCH_PROPOSED":
            patches[str(data.get("patch_id"))] = "proposed"
        elif name == "HUNK_DECISION":
            state = patches.get(str(data.get("patch_id")))
            if state not in ("proposed", "decided"):
                problems.append(Violation(index, "a hunk was decided for a patch not proposed, "
                                          "or already applied"))
            else:
                patches[str(data.get("patch_id"))] = "decided"
        elif name in ("PATCH_APPLIED", "PATCH_FAILED"):
            state = patches.get(str(data.get("patch_id")))
            if state != "decided" and not (data.get("redone") and state == "done"):
                problems.append(Violation(index, f"{name} without the patch being proposed and "
                                          "its hunks decided first"))
            patches[str(data.get("patch_id"))] = "done"
    for call, seen in calls.items():
        if seen[-1] != "TOKEN_USAGE":
            problems.append(Violation(last[call], f"model call {call} has no TOKEN_USAGE"))
    if open_checkpoint is not None:
        problems.append(Violation(open_checkpoint[0], f"checkpoint {open_checkpoint[1]!r} was "
                                  "never resolved"))
    return sorted(problems, key=lambda v: v.index)


@dataclass(frozen=True)
class Divergence:
    """Where a trace first departs from its expectation."""

    index: int
    message: str
    expected: list[str]
    actual: list[str]

    def describe(self) -> str:
        out = [self.message, "  expected:"]
        out += [f"    {text}" for text in self.expected] or ["    (nothing)"]
        out.append("  actual:")
        out += [f"    {text}" for text in self.actual] or ["    (nothing)"]
        return "\n".join(out)


def _window(lines: Sequence[str], index: int, before: int = 2, after: int = 2) -> list[str]:
    out = []
    for i in range(max(0, index - before), min(len(lines), index + after + 1)):
        out.append(f"{'>' if i == index else ' '} {i + 1:>3} {lines[i][:160]}")
    return out


def _subsequence(small: Sequence[str], big: Sequence[str]) -> int | None:
    """Index in `small` of the first element not found (in order) in `big`, else None."""
    position = 0
    for index, item in enumerate(small):
        while position < len(big) and big[position] != item:
            position += 1
        if position == len(big):
            return index
        position += 1
    return None


def compare(expected: Iterable[dict[str, Any]], actual: Iterable[dict[str, Any]],
            mode: str = "strict", volatile: frozenset[str] = VOLATILE) -> Divergence | None:
    """The first divergence of `actual` from `expected` in `mode`, or None."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    want = [line(r, volatile) for r in expected]
    got = [line(r, volatile) for r in actual]
    if mode == "strict":
        for index in range(max(len(want), len(got))):
            a = want[index] if index < len(want) else None
            b = got[index] if index < len(got) else None
            if a != b:
                what = ("an extra event" if a is None else "a missing event" if b is None
                        else "a different event")
                return Divergence(index, f"strict: event {index + 1} is {what}",
                                  _window(want, index), _window(got, index))
        return None
    if mode == "unordered":
        missing = Counter(want) - Counter(got)
        extra = Counter(got) - Counter(want)
        if not missing and not extra:
            return None
        first = next(iter(missing or extra))
        source, where = (want, "missing from the trace") if missing else (got, "not expected")
        index = source.index(first)
        return Divergence(index, f"unordered: event {index + 1} is {where}",
                          _window(want, index) if missing else [],
                          _window(got, index) if extra else [])
    small, big, label = (want, got, "subset") if mode == "subset" else (got, want, "superset")
    gap = _subsequence(small, big)
    if gap is None:
        return None
    index = gap
    message = (f"subset: expected event {index + 1} does not appear (in order) in the trace"
               if mode == "subset" else
               f"superset: trace event {index + 1} does not appear (in order) in the expectation")
    return Divergence(index, message, _window(want, index) if label == "subset" else [],
                      _window(got, index) if label == "superset" else [])
