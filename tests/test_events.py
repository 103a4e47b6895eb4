"""The event vocabulary and the one-line trace summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.log.events import (
    COMMIT_EVENTS,
    EVENT_NAMES,
    PAYLOADS,
    REQUIRED_FIELDS,
    EventName,
    validate,
)
from sage_tui.core.log.tracefmt import CATEGORIES, local_time, summary

DESIGN_EVENTS = {
    "SESSION_STARTED", "SESSION_ENDED", "USER_MESSAGE", "ASSISTANT_MESSAGE", "ROUTE_DECISION",
    "EXPERT_PACKET", "MODEL_ROUTING_DECISION", "CONTEXT_CLAMPED", "TOKEN_USAGE", "TOOL_CALL",
    "TOOL_RESULT", "TOOL_ERROR", "POLICY_DECISION", "PLAN_CREATED", "HUMAN_CHECKPOINT_REACHED",
    "CHECKPOINT_RESOLVED", "PATCH_PROPOSED", "HUNK_DECISION", "PATCH_APPLIED", "PATCH_FAILED",
    "PATCH_REVERTED", "TEST_RUN", "ERROR", "MODE_CHANGED", "TURN_CANCELLED",
    "PROMPT_REDACTED", "SESSION_RESUMED", "SUMMARY_UPDATED", "CONVERSATION_CLEARED",
    "COMMIT_CREATED", "CONTEXT_CHANGED", "INDEX_PROGRESS",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "SESSION_RESUMED": {"workspace": "/w", "mode": "auto", "profile": None, "version": "0.1.0",
                        "turns": 3, "messages": 6, "waiting": ["p-1"], "from_seq": 41},
    "SUMMARY_UPDATED": {"text": "The user asked about the CLI.", "absorbed": 8},
    "CONVERSATION_CLEARED": {"by": "person", "messages": 4},
    "CONTEXT_CHANGED": {"pinned": ["app.py", "cli.py:10-40"], "by": "person"},
    "INDEX_PROGRESS": {"done": 120, "total": 2000},
    "COMMIT_CREATED": {"sha": "0123456789abcdef", "message": "Fix\n\nSage-Session: s",
                       "files": ["a.py"], "by": "person"},
    "SESSION_STARTED": {"workspace": "/w", "mode": "auto", "profile": "test", "version": "0.1.0"},
    "SESSION_ENDED": {"status": "ok", "turns": 3,
                      "tokens": {"prompt_tokens": 1200, "completion_tokens": 80, "estimated": True}},
    "USER_MESSAGE": {"text": "add\na flag", "role": "user"},
    "ASSISTANT_MESSAGE": {"text": "done", "role": "coder"},
    "ROUTE_DECISION": {"route": "code", "experts": ["retrieval"], "reasoning": "wants a change",
                       "source": "llm", "latency_ms": 41.2},
    "EXPERT_PACKET": {"expert": "retrieval", "chars": 900, "evidence": True,
                      "citations": ["cli.py:12"], "text": "cli.py:12: def main():"},
    "MODEL_ROUTING_DECISION": {"role": "coder", "model": "m:7b", "host": "http://h:1",
                               "reason": "fallback"},
    "CONTEXT_CLAMPED": {"role": "coder", "budget": 8000, "before": 9100, "after": 7990,
                        "dropped": ["transcript[0:4]"]},
    "TOKEN_USAGE": {"role": "router", "model": "m", "prompt_tokens": 1500, "completion_tokens": 9,
                    "source": "estimate",
                    "session": {"prompt_tokens": 3000, "completion_tokens": 20}},
    "TOOL_CALL": {"tool": "read_file", "args": {"path": "a.py"}, "call_id": "c1"},
    "TOOL_RESULT": {"tool": "read_file", "call_id": "c1", "ok": True, "summary": "12 lines",
                    "ms": 2},
    "TOOL_ERROR": {"tool": "read_file", "call_id": "c1", "kind": "not_found",
                   "message": "no a.py", "suggestion": "list_files", "attempt": 2},
    "POLICY_DECISION": {"tool": "run_command", "target": "rm -rf /", "verdict": "deny",
                        "rule": "preset:workspace_write"},
    "PLAN_CREATED": {"steps": ["read cli.py", "add flag"], "path": ".sage/last_plan.json"},
    "HUMAN_CHECKPOINT_REACHED": {"checkpoint": "plan", "mode": "auto", "blocking": False,
                                 "skipped": True},
    "CHECKPOINT_RESOLVED": {"checkpoint": "plan", "decision": "respond",
                            "comment": "use argparse"},
    "PATCH_PROPOSED": {"patch_id": "p1", "files": ["a.py", "b.py"], "hunks": 2},
    "HUNK_DECISION": {"patch_id": "p1", "hunk_id": "h2", "hunk_sha": "ab12", "decision": "reject",
                      "comment": "keep the old name"},
    "PATCH_APPLIED": {"patch_id": "p1", "files": ["a.py"], "hunks": [{"hunk_id": "h1",
                                                                       "result": "applied"}]},
    "PATCH_FAILED": {"patch_id": "p1", "files": ["a.py"], "hunks": [],
                     "reason": "hunk 2 context not found"},
    "PATCH_REVERTED": {"patch_id": "p1", "files": ["a.py"], "hunks": []},
    "TEST_RUN": {"command": "pytest -q", "exit_code": 1, "passed": 10, "failed": 2, "ms": 812},
    "ERROR": {"where": "router", "kind": "timeout", "message": "the router took too long"},
    "MODE_CHANGED": {"from": "research", "to": "auto", "by": "person"},
    "TURN_CANCELLED": {"turn": 3, "by": "person"},
    "PROMPT_REDACTED": {"call_id": "llm-3", "role": "coder", "model": "m:7b",
                        "host": "http://gpu.lan:11434", "messages": 2, "setting": "auto"},
}


def test_vocabulary_matches_the_design() -> None:
    assert set(EVENT_NAMES) == DESIGN_EVENTS
    assert set(PAYLOADS) == set(EventName) == set(CATEGORIES)
    assert COMMIT_EVENTS <= EVENT_NAMES


def test_event_names_are_their_own_strings() -> None:
    assert EventName.ROUTE_DECISION == "ROUTE_DECISION"
    assert str(EventName.TOKEN_USAGE) == "TOKEN_USAGE"


def test_required_fields_follow_the_design_table() -> None:
    assert REQUIRED_FIELDS[EventName.ROUTE_DECISION] == {
        "route", "experts", "reasoning", "source", "latency_ms"}
    assert REQUIRED_FIELDS[EventName.TOKEN_USAGE] >= {
        "role", "model", "prompt_tokens", "completion_tokens", "source", "session"}
    assert "reason" not in REQUIRED_FIELDS[EventName.PATCH_APPLIED]


@pytest.mark.parametrize("name", sorted(DESIGN_EVENTS))
def test_samples_validate_and_summaries_read_well(name: str) -> None:
    data = SAMPLES[name]
    assert validate(name, data) == []
    line = summary({"event": name, "data": data})
    assert line and "\n" not in line
    assert "=" not in line or name in ("TOOL_CALL",), line  # a real sentence, not k=v pairs


def test_validate_reports_problems() -> None:
    assert validate("NOPE", {}) == ["unknown event 'NOPE'"]
    assert validate("TEST_RUN", {"command": "x"}) == [
        "TEST_RUN lacks field 'exit_code'", "TEST_RUN lacks field 'failed'",
        "TEST_RUN lacks field 'ms'", "TEST_RUN lacks field 'passed'"]
    assert validate("TEST_RUN", {**SAMPLES["TEST_RUN"], "extra": 1}) == []  # payloads may grow


def test_specific_summaries() -> None:
    assert summary({"event": "TOKEN_USAGE", "data": SAMPLES["TOKEN_USAGE"]}) == (
        "router m in ~1,500 out ~9 (estimate); session in 3,000 out 20")
    assert summary({"event": "ROUTE_DECISION", "data": SAMPLES["ROUTE_DECISION"]}) == (
        "→ code via llm (41 ms), experts retrieval: wants a change")
    assert summary({"event": "USER_MESSAGE", "data": SAMPLES["USER_MESSAGE"]}) == "you: add a flag"


def test_summaries_never_raise_on_odd_payloads() -> None:
    for name in DESIGN_EVENTS:
        assert isinstance(summary({"event": name, "data": {"steps": 5, "args": "x",
                                                            "session": 3}}), str)
        assert isinstance(summary({"event": name, "data": "not a dict"}), str)
    assert summary({"event": "FUTURE_EVENT", "data": {"a": 1}}) == "a=1"


def test_long_summaries_are_cut() -> None:
    line = summary({"event": "ERROR", "data": {"where": "x", "kind": "y", "message": "m" * 500}})
    assert len(line) <= 160 and line.endswith("…")


def test_local_time_tolerates_bad_timestamps() -> None:
    assert len(local_time("2026-11-21T10:00:00.123Z")) == 12
    assert local_time("garbage") == "garbage".ljust(12)


def test_mypy_checks_each_payload_against_its_event(tmp_path: Path) -> None:
    """Payloads are typed constructors: a missing or misspelt field, a wrong type or a payload
    given to another event fails mypy; the right one passes."""
    import subprocess
    import sys

    good = ('emit(EventName.TOOL_CALL, {"tool": "read_file", "args": {}, "call_id": "tool-1"})\n'
            'emit(EventName.TURN_CANCELLED, {"turn": 2, "by": "person"})\n')
    bad = ('emit(EventName.TOOL_CALL, {"tool": "read_file", "call_id": "tool-1"})\n'
           'emit(EventName.TURN_CANCELLED, {"turn": "two", "by": "person"})\n'
           'emit(EventName.MODE_CHANGED, {"tool": "read_file", "args": {}, "call_id": "1"})\n'
           'emit(EventName.ERROR, {"where": "x", "kind": "y", "mesage": "typo"})\n')
    head = ("from sage_tui.core.log.emitting import emitter\n"
            "from sage_tui.core.log.events import EventName\n"
            "emit = emitter(print)\n")
    results = {}
    for name, body in (("good", good), ("bad", bad)):
        source = tmp_path / f"{name}.py"
        source.write_text(head + body)
        results[name] = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(source)],
            capture_output=True, text=True, timeout=300)
    assert results["good"].returncode == 0, results["good"].stdout
    errors = [line for line in results["bad"].stdout.splitlines() if ": error:" in line]
    assert len(errors) == 4, results["bad"].stdout  # each wrong call, one by one
