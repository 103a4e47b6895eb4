"""`sage run`: a whole qa turn headless, as a user runs it, against the fake Ollama."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage_tui.config import default_models
from sage_tui.core.log.sessionlog import read_session
from tests.conftest import git_repo
from tests.fake_ollama import FakeOllamaServer
from tests.helpers import sessions_dir, state_of

Start = Callable[..., FakeOllamaServer]
MODELS = default_models()
ANSWER = "The entry point is main() in cli.py:1; it starts the server on port 8080."

QA: dict[str, Any] = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {
        "kind": "qa", "reasoningText": "a question about the code",
        "experts": ["retrieval", "git", "memory"]}}},
    {"when": {"role": "summarizer"}, "reply": {"json": {
        "project_facts": ["The server starts on port 8080"], "user_preferences": []}}},
    {"when": {"role": "coder"}, "reply": {"content": ANSWER, "prompt_eval_count": 512,
                                          "eval_count": 21}},
]}


def run(workspace: Path, *args: str, host: str, extra_env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_HOST": host, "SAGE_SESSION_ID": "run-test", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "sage_tui", "run", *args, "--workspace",
                           str(workspace)], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo", {"cli.py": "def main():\n    start_server(port=8080)\n"})


def check_model_call_order(records: list[dict[str, Any]]) -> None:
    """MODEL_ROUTING_DECISION → (CONTEXT_CLAMPED) → TOKEN_USAGE for every call id."""
    seen: dict[str, list[str]] = {}
    for record in records:
        call_id = record["data"].get("call_id")
        if record["event"] in ("MODEL_ROUTING_DECISION", "CONTEXT_CLAMPED", "TOKEN_USAGE"):
            assert call_id, record
            seen.setdefault(call_id, []).append(record["event"])
    assert seen
    for events in seen.values():
        assert events in (["MODEL_ROUTING_DECISION", "TOKEN_USAGE"],
                          ["MODEL_ROUTING_DECISION", "CONTEXT_CLAMPED", "TOKEN_USAGE"]), events


def test_silent_qa_turn_streams_only_the_answer(repo: Path, fake_ollama: Start) -> None:
    server = fake_ollama(QA)
    out = run(repo, "where does the server start?", "--mode", "silent", host=server.host)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ANSWER + "\n" and out.stderr == ""
    records = list(read_session("run-test", sessions_dir()))
    assert [r["event"] for r in records] == [
        "SESSION_STARTED", "USER_MESSAGE",
        "MODEL_ROUTING_DECISION", "TOKEN_USAGE", "ROUTE_DECISION",
        "EXPERT_PACKET", "EXPERT_PACKET", "EXPERT_PACKET",
        "MODEL_ROUTING_DECISION", "TOKEN_USAGE", "ASSISTANT_MESSAGE",
        "MODEL_ROUTING_DECISION", "TOKEN_USAGE",  # the memory update, after the reply
        "SESSION_ENDED"]
    check_model_call_order(records)
    route = next(r["data"] for r in records if r["event"] == "ROUTE_DECISION")
    assert (route["route"], route["source"]) == ("qa", "llm")
    coder_usage = [r["data"] for r in records if r["event"] == "TOKEN_USAGE"][1]
    assert (coder_usage["prompt_tokens"], coder_usage["completion_tokens"]) == (512, 21)
    retrieval = next(r["data"] for r in records if r["event"] == "EXPERT_PACKET")
    assert retrieval["expert"] == "retrieval" and "cli.py:2" in retrieval["citations"]
    [coder_request] = server.chat_requests("coder")
    assert "cli.py:2" in coder_request.body["messages"][0]["content"]  # the packet reached it
    ended = records[-1]["data"]
    assert ended["status"] == "ok" and ended["turns"] == 1
    assert json.loads((state_of(repo) / "memory.json").read_text())["facts"] == [
        "The server starts on port 8080"]


def test_auto_mode_narrates_routing_on_stderr(repo: Path, fake_ollama: Start) -> None:
    server = fake_ollama(QA)
    out = run(repo, "where does the server start?", "--mode", "auto", host=server.host)
    assert out.returncode == 0 and out.stdout == ANSWER + "\n"
    assert "route_decision: → qa via llm" in out.stderr and "expert_packet: retrieval" in out.stderr


def test_json_result(repo: Path, fake_ollama: Start) -> None:
    server = fake_ollama(QA)
    out = run(repo, "where does the server start?", "--json", host=server.host)
    result = json.loads(out.stdout)
    assert out.returncode == 0
    assert (result["status"], result["answer"], result["route"], result["source"]) == (
        "ok", ANSWER, "qa", "llm")
    assert result["session_id"] == "run-test" and result["tokens"]["completion_tokens"] > 21


def test_fast_path_question_needs_no_ollama(repo: Path, dead_host: str) -> None:
    out = run(repo, "which models do you use?", "--mode", "silent", host=dead_host)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Models by role:")
    assert f"coder: {MODELS.roles['coder'].model}" in out.stdout


def test_unreachable_ollama_is_one_sentence_and_exit_1(repo: Path, dead_host: str) -> None:
    out = run(repo, "where does the server start?", "--mode", "silent", host=dead_host)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"Error: Cannot reach Ollama at http://{dead_host}; start it with "
                          "`ollama serve`, or set OLLAMA_HOST to where it runs.\n")
    records = list(read_session("run-test", sessions_dir()))
    route = next(r["data"] for r in records if r["event"] == "ROUTE_DECISION")
    assert route["source"] == "fail_safe" and "unreachable" in route["reasoning"]
    error = next(r["data"] for r in records if r["event"] == "ERROR")
    assert (error["where"], error["kind"]) == ("coder", "unreachable")
    assert records[-1]["event"] == "SESSION_ENDED" and records[-1]["data"]["status"] == "failed"


@pytest.mark.parametrize("fault,kind", [
    ("not_found", "model_not_found"), ("no_tools", "tools_unsupported"),
    ("error_500", "model_error"), ("stream_error", "model_error"), ("truncated", "protocol"),
    ("blank_line", "protocol"), ("refused", "protocol"), ("stall", "timeout"),
])
def test_every_fault_ends_the_turn_with_an_error_event(repo: Path, fake_ollama: Start,
                                                       fault: str, kind: str) -> None:
    scenario = {"rules": [QA["rules"][0], {"when": {"role": "coder"}, "fault": fault,
                                           "after_chunks": 2, "reply": "partial answer text"}]}
    server = fake_ollama(scenario, stall_seconds=30)
    # `not_found` from every model of the chain; a short timeout for the stall.
    out = run(repo, "where does the server start?", "--mode", "silent", host=server.host,
              extra_env={"SAGE_MODEL_TIMEOUT": "1"})
    assert out.returncode == 1
    assert out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
    records = list(read_session("run-test", sessions_dir()))
    errors = [r["data"] for r in records if r["event"] == "ERROR"]
    assert [e["kind"] for e in errors] == [kind]
    assert errors[0]["message"] == out.stderr.removeprefix("Error: ").strip()
    check_model_call_order(records)
    assert records[-1]["data"]["status"] == "failed"


def test_empty_task_and_missing_workspace_are_usage_errors(tmp_path: Path, dead_host: str) -> None:
    out = run(tmp_path, "  ", host=dead_host)
    assert out.returncode == 2 and "The task is empty" in out.stderr
    out = run(tmp_path / "nope", "hi", host=dead_host)
    assert out.returncode == 2 and "is not a folder; give an existing folder" in out.stderr


def test_a_coder_answer_without_a_patch_reaches_stdout_named_once(repo: Path,
                                                                  fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["read cli.py"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "read_file", "arguments": {}}]}},  # no path: a validation error
        {"when": {"role": "coder"}, "reply": {"content": "main() already starts the server."}},
    ]})
    out = run(repo, "make main start the server", "--mode", "auto", host=server.host)
    assert out.stdout.strip() == "main() already starts the server."
    assert "read_file: read_file" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(
        "Error: The task did not complete: read_file: ")


def test_the_first_run_in_a_big_repository_shows_the_index_building_and_the_next_does_not(
        tmp_path: Path, fake_ollama: Start) -> None:
    files = {f"pkg/mod_{i:03}.py": f"def handler_{i}():\n    return {i}\n" for i in range(150)}
    big = git_repo(tmp_path / "big", {"cli.py": "def main():\n    start_server(port=8080)\n",
                                      **files})
    server = fake_ollama(QA)
    first = run(big, "where does the server start?", "--mode", "silent", host=server.host)
    assert first.returncode == 0, first.stderr
    assert "indexing the workspace: 151/151 files" in first.stderr
    records = read_session(sessions_dir() / "run-test.jsonl")
    progress = [r["data"] for r in records if r["event"] == "INDEX_PROGRESS"]
    assert progress[0] == {"done": 0, "total": 151} and progress[-1] == {"done": 151, "total": 151}
    order = [r["event"] for r in records if r["event"] in ("INDEX_PROGRESS", "EXPERT_PACKET")]
    assert order.index("EXPERT_PACKET") > max(i for i, e in enumerate(order)
                                              if e == "INDEX_PROGRESS")

    again = run(big, "where does the server start?", "--mode", "silent", host=server.host,
                extra_env={"SAGE_SESSION_ID": "run-test-2"})
    assert again.returncode == 0 and "indexing" not in again.stderr
    packets = [r["data"] for r in read_session(sessions_dir() / "run-test-2.jsonl")
               if r["event"] == "EXPERT_PACKET" and r["data"]["expert"] == "retrieval"]
    assert packets[0]["health"] == {"files": 151, "skipped": 0, "stale": 0}
    assert "cli.py:2" in packets[0]["citations"]
