"""`/clear` against the background summary, and ids that stay unique when a session continues."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.factory import build_session
from tests.conftest import git_repo

SCENARIO: dict[str, Any] = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "q",
                                                    "experts": []}}},
    {"when": {"role": "summarizer", "has_format": True}, "reply": {"json": {
        "project_facts": [], "user_preferences": []}}},
    {"when": {"role": "summarizer"}, "reply": {"content": "They talked about the old thing.",
                                               "delay_ms": 300}},
    {"when": {"role": "coder"}, "reply": "An answer."},
]}


def test_clear_while_the_summary_is_being_written_keeps_the_new_conversation(
        tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    backend = ScriptedBackend(Scenario.load(SCENARIO))
    records: list[dict[str, Any]] = []
    session = build_session(repo, backend_for=lambda host: backend,
                            subscribers=(records.append,))

    async def day() -> None:
        orchestrator = session.orchestrator
        orchestrator.start()
        for n in range(7):  # 14 messages: the summarizer starts folding the oldest in
            await orchestrator.run_turn(f"question {n}")
        while not any(r.role == "summarizer" and not r.format for r in backend.requests):
            await asyncio.sleep(0.01)  # the summary call is under way, in the background
        orchestrator.clear()
        await orchestrator.run_turn("a new question")
        await orchestrator.settle()
        assert orchestrator.experts.summary.text == ""
        assert orchestrator.experts.summary.absorbed == 0
        router = [r for r in backend.requests if r.role == "router"][-1]
        assert "question 0" not in str(router.messages)
        await orchestrator.finish("ok")

    try:
        asyncio.run(day())
    finally:
        session.close_log()
    events = [str(r["event"]) for r in records]
    cleared = events.index("CONVERSATION_CLEARED")
    assert "SUMMARY_UPDATED" not in events[cleared:]  # the stale summary was not kept


def test_a_continued_session_numbers_calls_and_patches_after_the_earlier_run(
        tmp_path: Path, monkeypatch: Any) -> None:
    from sage_tui.commands.ui import demo_settings, make_demo_project
    from sage_tui.config import load_settings
    from sage_tui.core.log.sessionlog import read_session
    from sage_tui.eval.golden import check_order
    from tests.helpers import sessions_dir
    from tests.ui.harness import DEMO

    monkeypatch.setenv("SAGE_SESSION_ID", "twice")
    repo = make_demo_project(tmp_path / "repo")
    settings = demo_settings(load_settings())

    def run(task: str, choose: bool = False) -> Any:
        backend = ScriptedBackend(Scenario.load(DEMO))
        session = build_session(repo, settings=settings, backend_for=lambda host: backend,
                                remember=False, mode="auto")
        try:
            orchestrator = session.orchestrator
            orchestrator.start()
            if choose:
                orchestrator.llm.choose("coder", "demo-model")
            asyncio.run(orchestrator.run_turn(task))
            asyncio.run(orchestrator.finish("ok"))
            return orchestrator
        finally:
            session.close_log()

    run("fix it")
    later = run("what changed?", choose=True)
    records = list(read_session("twice", sessions_dir()))
    proposed = [r["data"]["patch_id"] for r in records if r["event"] == "PATCH_PROPOSED"]
    assert proposed and set(proposed) <= later.code.tool_context.patch_ids  # never given again
    calls = [r["data"]["call_id"] for r in records
             if r["event"] == "MODEL_ROUTING_DECISION" and "call_id" in r["data"]]
    assert len(calls) == len(set(calls))  # llm-N runs on across the two runs
    assert check_order(records) == []  # the golden rules hold for the whole continued log
