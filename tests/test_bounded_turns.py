"""A turn is bounded: a reply that keeps dripping ends at the turn's deadline, a reply that
never ends is cut at its size cap; both with one sentence and an ERROR event."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sage_tui.core.log.sessionlog import read_session
from tests.conftest import git_repo
from tests.helpers import sessions_dir

ROUTER = {"when": {"role": "router"}, "reply": {"json": {
    "kind": "qa", "reasoningText": "a question", "experts": []}}}


def sage_run(repo: Path, host: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "sage_tui", "run", "tell me", "--mode", "auto",
                          "--workspace", str(repo)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OLLAMA_HOST": f"http://{host}",
                              "SAGE_SESSION_ID": "bounded", **env})
    return out, time.monotonic() - start


def test_a_reply_that_keeps_dripping_ends_at_the_turn_deadline(tmp_path: Path,
                                                               fake_ollama: Any) -> None:
    repo = git_repo(tmp_path / "repo", {"a.txt": "a\n"})
    server = fake_ollama({"rules": [ROUTER, {"when": {"role": "coder"}, "reply": {
        "content": "drip " * 400, "chunks": 400, "delay_ms": 100}}]})  # 40 s of dripping
    out, took = sage_run(repo, server.host, SAGE_TURN_TIMEOUT="3", SAGE_MODEL_TIMEOUT="30")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "Error: The turn took longer than 3 s and was stopped; ask for less at once, or raise "
        "SAGE_TURN_TIMEOUT (turn_timeout in config.toml).")
    assert took < 20  # the deadline, not the reply, ended it
    errors = [r["data"] for r in read_session("bounded", sessions_dir()) if r["event"] == "ERROR"]
    assert errors and errors[-1]["kind"] == "turn_timeout"


def test_a_reply_past_the_size_cap_is_cut_off_in_one_sentence(tmp_path: Path,
                                                              fake_ollama: Any) -> None:
    repo = git_repo(tmp_path / "repo", {"a.txt": "a\n"})
    server = fake_ollama({"rules": [ROUTER, {"when": {"role": "coder"}, "reply": {
        "content": "x" * 450_000, "chunks": 90}}]})
    out, _ = sage_run(repo, server.host)
    assert out.returncode == 1
    assert "passed 400,000 characters and was cut off" in out.stderr
    assert len(out.stdout) <= 400_001
    errors = [r["data"] for r in read_session("bounded", sessions_dir()) if r["event"] == "ERROR"]
    assert errors and errors[-1]["kind"] == "reply_too_long"


def test_a_persons_time_at_a_checkpoint_does_not_count_against_the_turn(tmp_path: Path) -> None:
    """The deadline bounds the machine, not the person: a slow review is not a timeout."""
    import asyncio

    from sage_tui.config import Settings
    from sage_tui.core.agent.approval import ApprovalRequest, Decision, ModeApprover
    from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
    from sage_tui.factory import build_session

    class SlowPerson:  # at each checkpoint, longer than the whole turn may take
        async def decide(self, request: ApprovalRequest) -> Decision:
            await asyncio.sleep(1.0)
            return await ModeApprover().decide(request)

    repo = git_repo(tmp_path / "repo", {"a.txt": "one\n"})
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["change a.txt"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "propose_patch", "arguments": {
                "diff": "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+ONE\n"}}]}},
        {"when": {"role": "coder"}, "reply": "changed"},
        {"when": {"role": "reviewer"}, "reply": "a.txt now shouts"},
    ]}))
    session = build_session(repo, settings=Settings(mode="research", force_local_model="m:7b",
                                                    turn_timeout=0.6),
                            backend_for=lambda host: backend, approver=SlowPerson(),
                            remember=False)
    try:
        result = asyncio.run(session.orchestrator.run_turn("shout"))
    finally:
        session.close_log()
    assert result.status == "ok", result.error
    assert (repo / "a.txt").read_text() == "ONE\n"
