"""Tools declare their effect; presets judge effects; a role calls only the tools it was offered."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sage_tui.config import Settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log.events import Event, EventName
from sage_tui.core.tools import builtin as builtin_module
from sage_tui.core.tools.builtin import BUILTINS, builtin_tools
from sage_tui.core.tools.policy import PRESETS, load_policy
from sage_tui.core.tools.registry import Tool, ToolOutput, ToolRegistry
from sage_tui.factory import build_session
from tests.conftest import git_repo
from tests.helpers import as_events
from tests.test_toolloop import calls, loop_for

# Today's verdicts, pinned. One change on purpose (issue 9): read_only judges every
# `run` effect `deny`, so run_tests went from `ask` to `deny` there.
MATRIX = {
    "read_only": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                  "propose_patch": "deny", "run_tests": "deny", "run_command": "deny"},
    "workspace_write": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                        "propose_patch": "allow", "run_tests": "allow", "run_command": "ask"},
    "allow_commands": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                       "propose_patch": "allow", "run_tests": "allow", "run_command": "allow"},
}


@pytest.mark.parametrize("preset", sorted(MATRIX))
def test_presets_give_todays_verdicts_for_every_builtin(preset: str) -> None:
    policy = load_policy(preset)
    got = {tool.name: policy.decide(tool.name, tool.effect, "x")[0] for tool in BUILTINS}
    assert got == MATRIX[preset]
    assert set(MATRIX) == set(PRESETS)


def test_every_builtin_declares_an_effect_and_the_coder_is_offered_what_it_was() -> None:
    registry = builtin_tools()
    assert {t.name: t.effect for t in BUILTINS} == {
        "read_file": "read", "list_files": "read", "search_code": "read",
        "propose_patch": "propose", "run_tests": "run", "run_command": "run"}
    # The order models see is the order the goldens recorded.
    assert registry.offered("coder") == ["read_file", "list_files", "search_code",
                                         "propose_patch", "run_command"]


WORD_COUNT = '''
    """`word_count`: how many words a workspace file holds (a read tool, for the test)."""

    from sage_tui.core.tools.registry import Tool, ToolOutput


    def word_count(ctx, args):
        text = ctx.workspace.read_bytes(args["path"]).decode("utf-8")
        return ToolOutput(f"{len(text.split())} words", f"counted {args['path']}")


    TOOL = Tool("word_count", "Count the words of a file.",
                {"type": "object", "required": ["path"],
                 "properties": {"path": {"type": "string"}}}, word_count, effect="read")
'''


def _load_tool_module(tmp_path: Path) -> Tool:
    """A new tool as a newcomer adds it: one module that declares `TOOL`."""
    source = tmp_path / "word_count.py"
    source.write_text(textwrap.dedent(WORD_COUNT), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("word_count_tool", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    tool: Tool = module.TOOL
    return tool


def test_a_new_read_tool_is_offered_to_the_coder_and_allowed_without_a_policy_edit(
        tmp_path: Path, sage_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo(tmp_path / "repo", {"notes.txt": "one two three\n", "calc.py": "x = 1\n"})
    new_tool = _load_tool_module(tmp_path)
    scenario = Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": "code", "reasoningText": "a change", "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["Count the words"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "word_count", "arguments": {"path": "notes.txt"}}]}},
        {"when": {"role": "coder"}, "reply": "There are three words; nothing to change."},
        {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                            "user_preferences": []}}},
    ]})
    backend = ScriptedBackend(scenario)
    events: list[Event] = []
    # The one line a newcomer adds: the module's TOOL in the registry list.
    monkeypatch.setattr(builtin_module, "BUILTINS", (*BUILTINS, new_tool))
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b"),
                            backend_for=lambda host: backend, subscribers=(as_events(events),),
                            remember=False)
    try:
        asyncio.run(session.orchestrator.run_turn("count the words in notes.txt"))
    finally:
        session.close_log()
    coder = [r for r in backend.requests if r.tools]
    offered = [t["function"]["name"] for t in coder[0].tools or []]
    assert offered[-1] == "word_count" and "run_tests" not in offered
    [decision] = [e.data for e in events if e.name == EventName.POLICY_DECISION]
    assert decision == {"tool": "word_count", "target": "notes.txt", "verdict": "allow",
                        "rule": "preset workspace_write: word_count allow"}
    [result] = [e.data for e in events if e.name == EventName.TOOL_RESULT]
    assert result["ok"] is True
    tool_reply = [m for m in coder[1].messages if m.get("role") == "tool"]
    from sage_tui.core.llm.context import untrusted

    assert tool_reply[-1]["content"] == untrusted("tool word_count", "3 words")


def test_a_role_cannot_call_a_tool_it_was_not_offered(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r", {"tests/test_a.py": "def test_a():\n    assert True\n"})
    loop, events, _ = loop_for(repo, [calls(("run_tests", {})),
                                      {"when": {}, "reply": "done"}])
    result = asyncio.run(loop.run("coder", _parts(), builtin_tools().offered("coder")))
    [error] = [e.data for e in events if e.name == EventName.TOOL_ERROR]
    assert error["kind"] == "validation_error"
    assert "not one of the tools you were offered" in error["message"]
    assert "run_command" in error["suggestion"] and "run_tests" not in error["suggestion"]
    names = [e.name for e in events]
    assert EventName.TEST_RUN not in names and EventName.POLICY_DECISION not in names
    assert result.status == "failed"  # the last call of that tool failed: unrecovered


def test_a_tool_reports_only_the_events_it_declares(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r", {"a.txt": "a\n"})

    def noisy(ctx: Any, args: dict[str, Any]) -> ToolOutput:
        return ToolOutput("ok", "ok", events=[
            Event(EventName.TEST_RUN, {"command": "x", "exit_code": 0, "passed": 1,
                                       "failed": 0, "ms": 1.0}),
            Event(EventName.PATCH_APPLIED, {"patch_id": "forged", "files": []})])

    tool = Tool("noisy", "Reports events.", {"type": "object"}, noisy, effect="read",
                emits=(EventName.TEST_RUN,))
    loop, events, _ = loop_for(repo, [calls(("noisy", {})), {"when": {}, "reply": "done"}])
    loop.registry = ToolRegistry([tool])
    asyncio.run(loop.run("coder", _parts(), ["noisy"]))
    names = [e.name for e in events]
    assert EventName.TEST_RUN in names and EventName.PATCH_APPLIED not in names


def test_a_policy_file_can_fall_back_on_a_preset(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("preset: read_only\nrules:\n"
                           "  - {tool: read_file, path: 'secrets/**', verdict: deny}\n")
    policy = load_policy(str(policy_file))
    assert policy.decide("read_file", "read", "secrets/k")[0] == "deny"
    assert policy.decide("read_file", "read", "src/a.py") == (
        "allow", "preset read_only: read_file allow")
    assert policy.decide("propose_patch", "propose", "a.py")[0] == "deny"


def _parts() -> Any:
    from sage_tui.core.llm.context import PromptParts

    return PromptParts("You code.", "do it")
