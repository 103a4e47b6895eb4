"""The policy judges what is really touched: every spelling of a denied path, every file of a
patch, every way a file can reach a prompt, and the test run after an apply."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sage_tui.config import Settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log.events import Event, EventName
from sage_tui.factory import build_session
from tests.conftest import git_repo
from tests.helpers import as_events

SECRET = "sk-planted-secret-value"
FILES = {"app.py": "print('hi')\n", "secrets/key.txt": f"{SECRET}\n",
         "tests/test_app.py": "def test_ok():\n    assert True\n"}
POLICY = ("preset: workspace_write\nrules:\n"
          "  - {tool: '*', path: 'secrets/**', verdict: deny}\n")


def run_turn(tmp_path: Path, coder: list[dict[str, Any]], policy: str = POLICY, *,
             route: str = "code", experts: list[str] | None = None
             ) -> tuple[list[Event], ScriptedBackend, Path]:
    repo = git_repo(tmp_path / "repo", FILES)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(policy)
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {
            "kind": route, "reasoningText": "x", "experts": experts or []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["do it"]}}},
        *coder,
        {"when": {"role": "coder"}, "reply": "done"},
        {"when": {"role": "reviewer"}, "reply": "reviewed"},
        {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                            "user_preferences": []}}},
    ]}))
    events: list[Event] = []
    settings = Settings(mode="auto", force_local_model="m:7b", tool_policy=str(policy_file),
                        test_command="python -m pytest -q -p no:cacheprovider")
    session = build_session(repo, settings=settings, backend_for=lambda host: backend,
                            subscribers=(as_events(events),), remember=False)
    try:
        asyncio.run(session.orchestrator.run_turn("go"))
    finally:
        session.close_log()
    return events, backend, repo


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"when": {"role": "coder"}, "times": 1,
            "reply": {"tool_calls": [{"name": name, "arguments": arguments}]}}


def prompts(backend: ScriptedBackend) -> str:
    return "\n".join(str(m.get("content", "")) for r in backend.requests for m in r.messages)


@pytest.mark.parametrize("spelling", ["secrets/key.txt", "./secrets/key.txt",
                                      "tests/../secrets/key.txt", "secrets//key.txt",
                                      "SECRETS/key.txt", "{root}/secrets/key.txt"])
def test_every_spelling_of_a_denied_path_is_denied(tmp_path: Path, spelling: str) -> None:
    root = str((tmp_path / "repo").resolve())
    events, backend, _ = run_turn(tmp_path, [call("read_file", path=spelling.format(root=root))])
    [decision] = [e.data for e in events if e.name == EventName.POLICY_DECISION]
    assert decision["verdict"] == "deny"
    assert decision["target"].lower() == "secrets/key.txt"
    assert SECRET not in prompts(backend)


def test_a_denied_file_never_enters_a_prompt_through_search_listing_or_retrieval(
        tmp_path: Path) -> None:
    events, backend, _ = run_turn(tmp_path, [
        call("search_code", query="planted"), call("list_files"),
        call("search_code", query="sk-planted", path="secrets")], route="code",
        experts=["retrieval"])
    sent = prompts(backend)
    assert SECRET not in sent and "secrets/key.txt" not in sent
    results = [e.data for e in events if e.name == EventName.TOOL_RESULT]
    assert results and all("key.txt" not in str(r) for r in results)


def test_a_question_routed_to_retrieval_does_not_see_a_denied_file(tmp_path: Path) -> None:
    _, backend, _ = run_turn(tmp_path, [], route="qa", experts=["retrieval", "memory"])
    assert SECRET not in prompts(backend)


def test_one_denied_file_denies_a_multi_file_patch_and_says_which(tmp_path: Path) -> None:
    diff = ("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-print('hi')\n+print('bye')\n"
            f"--- a/secrets/key.txt\n+++ b/secrets/key.txt\n@@ -1 +1 @@\n-{SECRET}\n+leaked\n")
    events, _, repo = run_turn(tmp_path, [call("propose_patch", diff=diff)])
    [decision] = [e.data for e in events if e.name == EventName.POLICY_DECISION]
    assert decision["verdict"] == "deny" and decision["target"] == "app.py,secrets/key.txt"
    [error] = [e.data for e in events if e.name == EventName.TOOL_ERROR]
    assert "secrets/key.txt" in error["message"] and "app.py " not in error["message"]
    assert (repo / "secrets/key.txt").read_text() == f"{SECRET}\n"
    assert (repo / "app.py").read_text() == "print('hi')\n"
    assert not [e for e in events if e.name == EventName.PATCH_APPLIED]


def test_a_run_tests_deny_stops_the_test_run_after_an_apply(tmp_path: Path) -> None:
    diff = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-print('hi')\n+print('bye')\n"
    policy = POLICY + "  - {tool: run_tests, verdict: deny}\n"
    events, backend, repo = run_turn(tmp_path, [call("propose_patch", diff=diff)], policy)
    assert (repo / "app.py").read_text() == "print('bye')\n"  # the change itself was allowed
    names = [e.name for e in events]
    assert EventName.PATCH_APPLIED in names and EventName.TEST_RUN not in names
    denied = [e.data for e in events if e.name == EventName.POLICY_DECISION
              and e.data["tool"] == "run_tests"]
    assert denied and denied[0]["verdict"] == "deny"
    reviewer = [r for r in backend.requests if r.role == "reviewer"]
    assert "tests were not run" in str(reviewer[-1].messages).lower()


def test_a_hidden_file_is_not_even_suggested_by_name(tmp_path: Path) -> None:
    events, backend, _ = run_turn(tmp_path, [call("read_file", path="key.txt")])
    [error] = [e.data for e in events if e.name == EventName.TOOL_ERROR]
    assert error["kind"] == "not_found"
    assert "secrets" not in error["suggestion"] and "secrets/key.txt" not in prompts(backend)
