"""Golden traces: the shipped goldens pass; mutated copies fail with a readable divergence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sage_tui.eval.golden import check_order, compare

ROOT = Path(__file__).resolve().parent
GOLDENS = ROOT.parent / "sage_tui" / "eval" / "goldens"
MINIMAL = GOLDENS / "minimal.jsonl"


def sage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def ev(name: str, **data: Any) -> dict[str, Any]:
    return {"turn": 1, "event": name, "data": data}


def test_shipped_goldens_pass() -> None:
    out = sage("eval", "golden", *map(str, sorted(GOLDENS.glob("*.yaml"))), str(MINIMAL))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "4 passed, 0 failed"


def mutated(tmp_path: Path, name: str, change: Any) -> Path:
    shutil.copy(GOLDENS / f"{name}.yaml", tmp_path / f"{name}.yaml")
    records = [json.loads(x) for x in (GOLDENS / f"{name}.jsonl").read_text().splitlines()]
    change(records)
    (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path / f"{name}.yaml"


def test_two_events_swapped(tmp_path: Path) -> None:
    def swap(records: list[dict[str, Any]]) -> None:
        i = next(i for i, r in enumerate(records) if r["event"] == "TOOL_CALL")
        records[i], records[i + 1] = records[i + 1], records[i]

    out = sage("eval", "golden", str(mutated(tmp_path, "code_auto", swap)))
    assert out.returncode == 1
    assert "FAIL code_auto" in out.stdout and "is a different event" in out.stdout
    assert '>  14 {"data": {"rule": "preset workspace_write: read_file allow"' in out.stdout
    assert '>  14 {"data": {"args": {"path": "calc.py"}, "call_id": "tool-1"' in out.stdout
    assert "expected:" in out.stdout and "actual:" in out.stdout
    assert out.stdout.strip().endswith("0 passed, 1 failed")


def test_a_token_usage_missing(tmp_path: Path) -> None:
    def drop(records: list[dict[str, Any]]) -> None:
        del records[next(i for i, r in enumerate(records) if r["event"] == "TOKEN_USAGE")]

    out = sage("eval", "golden", str(mutated(tmp_path, "qa", drop)))
    assert out.returncode == 1
    assert "model call llm-1 has no TOKEN_USAGE" in out.stdout
    assert "strict: event 4 is a different event" in out.stdout


def test_an_extra_patch_applied(tmp_path: Path) -> None:
    def extra(records: list[dict[str, Any]]) -> None:
        i = next(i for i, r in enumerate(records) if r["event"] == "PATCH_APPLIED")
        records.insert(i + 1, dict(records[i]))

    out = sage("eval", "golden", str(mutated(tmp_path, "code_auto", extra)))
    assert out.returncode == 1
    assert "PATCH_APPLIED without the patch being proposed and its hunks decided first" \
        in out.stdout
    assert "is a different event" in out.stdout


def test_a_trace_alone_gets_the_ordering_rules(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    lines = MINIMAL.read_text().splitlines()
    trace.write_text("\n".join(lines[1:]) + "\n")  # SESSION_STARTED gone
    out = sage("eval", "golden", str(trace))
    assert out.returncode == 1 and "a session must start with SESSION_STARTED" in out.stdout


def test_bare_eval_golden_runs_the_shipped_goldens() -> None:
    out = sage("eval", "golden")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS code_research" in out.stdout and "PASS minimal" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "4 passed, 0 failed"


def test_the_minimal_trace_holds_a_clamped_model_call() -> None:
    events = [json.loads(x)["event"] for x in MINIMAL.read_text().splitlines()]
    i = events.index("CONTEXT_CLAMPED")
    assert events[i - 1:i + 2] == ["MODEL_ROUTING_DECISION", "CONTEXT_CLAMPED", "TOKEN_USAGE"]


def _recorded(tmp_path: Path, name: str) -> Path:
    """A real session log of the code_auto scenario, written by `sage eval golden --record`."""
    spec = tmp_path / name / "code_auto.yaml"
    spec.parent.mkdir()
    shutil.copy(GOLDENS / "code_auto.yaml", spec)
    assert sage("eval", "golden", "--record", str(spec)).returncode == 0
    return spec.with_suffix(".jsonl")


@pytest.mark.parametrize("change,what", [
    ("swap", "is a different event"), ("drop", "is a missing event"),
    ("extra", "is an extra event")])
def test_eval_diff_catches_a_reordered_missing_or_extra_event(tmp_path: Path, change: str,
                                                               what: str) -> None:
    baseline, session = _recorded(tmp_path, "a"), _recorded(tmp_path, "b")
    same = sage("eval", "diff", str(session), str(baseline))
    assert same.returncode == 0 and same.stdout.startswith("Same: 37 events"), same.stdout
    lines = session.read_text().splitlines()
    i = next(i for i, x in enumerate(lines) if '"TOOL_RESULT"' in x)
    if change == "swap":
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif change == "drop":
        del lines[i:]  # the session stopped early
    else:
        lines.append(lines[-2])
    session.write_text("\n".join(lines) + "\n")
    out = sage("eval", "diff", str(session), str(baseline))
    assert out.returncode == 1 and what in out.stdout, out.stdout
    assert "expected:" in out.stdout and "actual:" in out.stdout


def test_usage_errors() -> None:
    assert "does not exist" in sage("eval", "golden", "nope.yaml").stderr
    assert sage("eval", "diff", "no-such-session", "nor-this").returncode == 2


TRACE = [ev("SESSION_STARTED"), ev("MODEL_ROUTING_DECISION", call_id="a"),
         ev("TOKEN_USAGE", call_id="a"), ev("HUMAN_CHECKPOINT_REACHED", checkpoint="plan"),
         ev("CHECKPOINT_RESOLVED", checkpoint="plan"), ev("PATCH_PROPOSED", patch_id="p"),
         ev("HUNK_DECISION", patch_id="p"), ev("PATCH_APPLIED", patch_id="p"),
         ev("SESSION_ENDED")]


def test_ordering_rules() -> None:
    assert check_order(TRACE) == []
    broken = [TRACE[0], ev("TOKEN_USAGE", call_id="b"), TRACE[3], TRACE[5], TRACE[7]]
    rules = [v.rule for v in check_order(broken)]
    assert "a session must end with SESSION_ENDED" in rules
    assert any("expected MODEL_ROUTING_DECISION" in r for r in rules)
    assert any("never resolved" in r for r in rules)
    assert any("PATCH_APPLIED without" in r for r in rules)
    clamped = [TRACE[0], TRACE[1], ev("CONTEXT_CLAMPED", call_id="a"), TRACE[2], TRACE[-1]]
    assert check_order(clamped) == []
    no_id = [TRACE[0], ev("MODEL_ROUTING_DECISION"), ev("TURN_STARTED"), TRACE[-1]]
    assert [(v.index, v.rule) for v in check_order(no_id)] == [
        (1, "model call #1 has no TOKEN_USAGE")]


@pytest.mark.parametrize("mode,actual,ok", [
    ("strict", TRACE, True),
    ("strict", [TRACE[1], TRACE[0], *TRACE[2:]], False),
    ("unordered", [TRACE[1], TRACE[0], *TRACE[2:]], True),
    ("unordered", TRACE[:-1], False),
    ("subset", [*TRACE[:3], ev("ERROR", kind="x"), *TRACE[3:]], True),
    ("subset", TRACE[:-1], False),
    ("superset", TRACE[1:], True),
    ("superset", [*TRACE, ev("ERROR")], False),
])
def test_comparison_modes(mode: str, actual: list[dict[str, Any]], ok: bool) -> None:
    result = compare(TRACE, actual, mode)
    assert (result is None) == ok
    if result is not None:
        assert result.describe().startswith(mode)


def test_volatile_fields_are_ignored() -> None:
    a = [{"ts": "1", "seq": 1, "session_id": "x", "turn": 1, "event": "TEST_RUN",
          "data": {"ms": 12.5, "command": "/a/python -m pytest", "passed": 2}}]
    b = [{"ts": "2", "seq": 9, "session_id": "y", "turn": 1, "event": "TEST_RUN",
          "data": {"ms": 99, "command": "/b/python -m pytest", "passed": 2}}]
    assert compare(a, b) is None
    b[0]["data"]["passed"] = 3
    assert compare(a, b) is not None
