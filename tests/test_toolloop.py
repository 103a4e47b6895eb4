"""The tool loop: classification, suggestions, the three-strikes rule, text fallback, policy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sage_tui.config import Settings, default_models
from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.agent.checkpoints import Checkpoints
from sage_tui.core.agent.toolloop import ToolLoop, _text_call
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log.events import Event
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.policy import load_policy
from sage_tui.core.tools.registry import ToolContext
from sage_tui.core.workspace.workspace import Workspace
from sage_tui.factory import model_router
from tests.conftest import git_repo

TOOLS = ["read_file", "list_files", "search_code", "propose_patch", "run_command", "run_tests"]


class Scripted:
    """An approver that answers from a list."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        return self.answers.pop(0)


def loop_for(root: Path, rules: list[dict[str, Any]], policy: str = "workspace_write",
             approver: Scripted | None = None, models: list[Any] | None = None,
             mode: str = "research") -> tuple[ToolLoop, list[Event], ScriptedBackend]:
    events: list[Event] = []
    backend = ScriptedBackend(Scenario.load({"rules": rules, **({"models": models} if models
                                                                else {})}))
    settings = Settings(force_local_model="m:7b")
    llm = LLMClient(model_router(default_models(), settings), lambda host: backend, events.append,
                    max_prompt_chars=60_000)
    loop = ToolLoop(llm, builtin_tools(), load_policy(policy),
                    Checkpoints(events.append, approver or Scripted(), mode), events.append,
                    ToolContext(Workspace([root])))
    return loop, events, backend


def calls(*pairs: tuple[str, dict[str, Any]], times: int = 1) -> dict[str, Any]:
    return {"when": {}, "times": times, "reply": {"tool_calls": [
        {"name": name, "arguments": args} for name, args in pairs]}}


def run(loop: ToolLoop) -> Any:
    return asyncio.run(loop.run("coder", PromptParts("You code.", "do it"), TOOLS))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "r", {"src/app.py": "def main():\n    return 1\n",
                                     "README.md": "# r\n"})


def test_success_feeds_results_back_in_ollamas_format(repo: Path) -> None:
    loop, events, backend = loop_for(repo, [calls(("read_file", {"path": "src/app.py"})),
                                            {"when": {}, "reply": "It returns 1."}])
    result = run(loop)
    assert (result.status, result.answer) == ("ok", "It returns 1.")
    second = backend.requests[1].messages
    assert second[-2]["tool_calls"][0]["function"] == {"name": "read_file",
                                                        "arguments": {"path": "src/app.py"}}
    assert second[-1]["role"] == "tool" and second[-1]["tool_name"] == "read_file"
    assert "    2      return 1" in second[-1]["content"]
    names = [str(e.name) for e in events if e.name.startswith(("TOOL", "POLICY"))]
    assert names == ["TOOL_CALL", "POLICY_DECISION", "TOOL_RESULT"]


@pytest.mark.parametrize("call,kind,hint", [
    (("read_file", {"path": "src/apq.py"}), "not_found", "Did you mean src/app.py"),
    (("read_file", {"path": "../../etc/passwd"}), "permission_denied", "inside the workspace"),
    (("read_file", {"file": "src/app.py"}), "validation_error", "lacks the required field 'path'"),
    (("read_file", {"path": "src/app.py", "start_line": "one"}), "validation_error",
     "'start_line' must be an integer"),
    (("no_such_tool", {}), "validation_error", "Use one of: read_file"),
    (("search_code", {"query": "(", "regex": True}), "validation_error", "regular expression"),
    (("run_command", {"command": "definitely-not-a-program-sage"}), "not_found", "not installed"),
])
def test_failures_are_classified_with_a_suggestion(repo: Path, call: tuple[str, dict[str, Any]],
                                                   kind: str, hint: str) -> None:
    policy = "allow_commands"
    loop, events, backend = loop_for(repo, [calls(call), {"when": {}, "reply": "gave up"}],
                                     policy=policy)
    result = run(loop)
    [error] = [e.data for e in events if e.name == "TOOL_ERROR"]
    assert error["kind"] == kind and error["attempt"] == 1
    assert hint in error["message"] + error["suggestion"]
    assert f"ERROR ({kind})" in backend.requests[1].messages[-1]["content"]
    assert result.status == "failed"  # never a success after an unrecovered failure


def test_a_recovered_failure_lets_the_turn_succeed(repo: Path) -> None:
    loop, events, _ = loop_for(repo, [calls(("read_file", {"path": "app.py"})),
                                      calls(("read_file", {"path": "src/app.py"})),
                                      {"when": {}, "reply": "found it"}])
    result = run(loop)
    assert result.status == "ok" and result.unrecovered == []
    assert [e.name for e in events if e.name in ("TOOL_ERROR", "TOOL_RESULT")] == [
        "TOOL_ERROR", "TOOL_RESULT"]


def test_the_same_failing_call_is_allowed_three_times(repo: Path) -> None:
    loop, events, backend = loop_for(repo, [calls(("read_file", {"path": "nope.py"}), times=9),
                                            {"when": {}, "reply": "never reached"}])
    result = run(loop)
    assert result.status == "failed" and "failed 3 times" in result.unrecovered[0]
    attempts = [e.data["attempt"] for e in events if e.name == "TOOL_ERROR"]
    assert attempts == [1, 2, 3]
    assert len(backend.requests) == 3


def test_a_tool_timeout_is_classified(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop, events, _ = loop_for(repo, [calls(("list_files", {})), {"when": {}, "reply": "ok"}])
    slow = loop.registry.tools["list_files"]
    import dataclasses
    import time

    def sleepy(ctx: Any, args: Any) -> Any:
        time.sleep(0.5)
        return slow.run(ctx, args)

    loop.registry.tools["list_files"] = dataclasses.replace(slow, run=sleepy, timeout=0.05)
    run(loop)
    [error] = [e.data for e in events if e.name == "TOOL_ERROR"]
    assert error["kind"] == "timeout" and "narrow it" in error["suggestion"]


def test_models_without_tools_get_the_json_in_text_fallback(repo: Path) -> None:
    rules = [{"when": {"has_tools": True}, "fault": "no_tools"},
             {"when": {}, "times": 1, "reply":
              'I will look.\n```json\n{"tool": "read_file", "arguments": {"path": "README.md"}}\n```'},
             {"when": {}, "reply": "The README is a title."}]
    loop, events, backend = loop_for(repo, rules)
    result = run(loop)
    assert result.status == "ok" and result.answer == "The README is a title."
    assert loop.text_mode
    assert "You cannot call tools natively" in backend.requests[1].messages[0]["content"]
    assert "Result of read_file:" in backend.requests[-1].messages[-1]["content"]
    assert [e.data["tool"] for e in events if e.name == "TOOL_RESULT"] == ["read_file"]


def test_text_call_parsing() -> None:
    assert _text_call('{"tool": "list_files", "arguments": {}}').name == "list_files"  # type: ignore[union-attr]
    assert _text_call("just an answer") is None
    assert _text_call('```json\n{"not": "a call"}\n```') is None


def test_policy_ask_waits_for_a_person_and_session_allow_sticks(repo: Path) -> None:
    approver = Scripted(Decision("approve_session"))
    loop, events, _ = loop_for(repo, [calls(("run_command", {"command": "git status"}), times=2),
                                      {"when": {}, "reply": "done"}], approver=approver)
    assert run(loop).status == "ok"
    assert len(approver.asked) == 1 and approver.asked[0].target == "git status"
    verdicts = [e.data["verdict"] for e in events if e.name == "POLICY_DECISION"]
    assert verdicts == ["ask", "allow"]
    reached = [e.data for e in events if e.name == "HUMAN_CHECKPOINT_REACHED"]
    assert reached == [{"checkpoint": "tool", "mode": "research", "blocking": True,
                        "skipped": False, "title": "Allow run_command on git status?",
                        "tool": "run_command", "target": "git status"}]


def test_read_only_denies_patches(repo: Path) -> None:
    diff = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# r\n+# R\n"
    loop, events, _ = loop_for(repo, [calls(("propose_patch", {"diff": diff})),
                                      {"when": {}, "reply": "cannot"}], policy="read_only")
    result = run(loop)
    assert result.status == "failed" and loop.context.proposed == []
    [error] = [e.data for e in events if e.name == "TOOL_ERROR"]
    assert error["kind"] == "permission_denied" and "read_only" in error["message"]


def test_policy_files(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("default: deny\nrules:\n  - {tool: read_file, path: 'secrets/**', "
                    "verdict: deny}\n  - {tool: 'read_*', verdict: allow}\n")
    policy = load_policy(str(good))
    assert policy.decide("read_file", "read", "secrets/key.pem")[0] == "deny"
    assert policy.decide("read_file", "read", "src/a.py") == ("allow", "policy.yaml rule 2: read_* allow")
    assert policy.decide("run_command", "run", "ls")[0] == "deny"
    for text, message in (("rules: [{tool: x, verdict: maybe}]", "verdict must be one of"),
                          ("rules: [{verdict: allow}]", "needs a 'tool'"),
                          ("colour: red", "unknown key 'colour'"),
                          ("rules: [", "not valid YAML")):
        good.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_policy(str(good))
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))
