"""`run_tests`: the project's test command, with passed and failed counts."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_tui.core.log.events import Event, EventName, TestRun
from sage_tui.core.tools.builtin.common import run_process
from sage_tui.core.tools.registry import Tool, ToolContext, ToolFailure, ToolOutput

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in", re.MULTILINE)
_UNITTEST_BAD = re.compile(r"(?:failures|errors)=(\d+)")


def detect_test_command(root: Path) -> str | None:
    """A sensible test command for the project, if one is evident."""
    if (root / "pytest.ini").exists() or (root / "tests").is_dir() or (root / "test").is_dir() \
            or any(root.glob("test_*.py")) or "pytest" in _text(root / "pyproject.toml"):
        return f"{shlex.quote(sys.executable)} -m pytest -q"
    if '"test"' in _text(root / "package.json"):
        return "npm test --silent"
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def test_run_payload(data: Mapping[str, Any]) -> TestRun:
    """The TEST_RUN event's data, from what `run_tests` returned."""
    return {"command": str(data["command"]), "exit_code": int(data["exit_code"]),
            "passed": int(data["passed"]), "failed": int(data["failed"]),
            "ms": float(data["ms"])}


def run_tests(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    command = ctx.test_command or detect_test_command(ctx.root)
    if command is None:
        raise ToolFailure("not_found", "No test command is configured and none is evident here.",
                          "Set test_command in SAGE's config.toml, or add a tests/ folder.")
    code, tail, ms = run_process(ctx, command, ctx.command_timeout)
    counts: dict[str, int] = {}
    for number, word in _COUNTS.findall(tail):
        key = "failed" if word.startswith("error") else word
        counts[key] = counts.get(key, 0) + int(number)
    passed, failed = counts.get("passed", 0), counts.get("failed", 0)
    ran = _UNITTEST_RAN.search(tail)
    if ran and not counts:  # unittest: "Ran 3 tests" then "OK" or "FAILED (failures=1, errors=1)"
        bad = sum(int(n) for n in _UNITTEST_BAD.findall(tail))
        passed, failed = int(ran.group(1)) - bad, bad
    if code != 0 and failed == 0:
        failed = 1  # a crash or collection error is a failure even without a count
    verdict = "passed" if code == 0 else "failed"
    data = {"command": command, "exit_code": code, "passed": passed, "failed": failed,
            "ms": round(ms, 1)}
    return ToolOutput(f"$ {command}\nexit code {code}: {passed} passed, {failed} failed\n{tail}",
                      f"tests {verdict}: {passed} passed, {failed} failed", ok=code == 0,
                      data=data, events=[Event(EventName.TEST_RUN, test_run_payload(data))])


TOOL = Tool("run_tests", "Run the project's test command and report passed and failed counts.",
            {"type": "object", "additionalProperties": False, "properties": {}}, run_tests,
            effect="run", targets=lambda ctx, a: ["tests"], timeout=900,
            roles=(),  # not offered to a model: SAGE runs it after an approved change
            emits=(EventName.TEST_RUN,))
