"""Keys are decisions: handled in the order typed, none dropped while a screen opens, none
overtaken, no shortcut fired while typing. Pressed in bursts with zero delay, as people type."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.events import Key
from textual.pilot import Pilot

from sage_tui.core.log.sessionlog import read_session
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import ConfirmModal, PlanModal, ToolAskModal
from sage_tui.ui.widgets.prompt import PromptInput
from tests.helpers import sessions_dir
from tests.ui.harness import make_app, workspace
from tests.ui.test_workbench_pilot import SIZE, send, until

pytestmark = pytest.mark.anyio


async def burst(pilot: Pilot[None], *keys: str) -> None:
    """Keys queued back to back, as a fast typist or a paste delivers them (Pilot's `press`
    waits for the app to go idle after each key, which hides races)."""
    for key in keys:
        char = " " if key == "space" else key if len(key) == 1 else None
        pilot.app.post_message(Key(key, char))
    await pilot.pause()


def events(name: str) -> list[dict[str, object]]:
    return [r["data"] for r in read_session("ui-test-session", sessions_dir())
            if r["event"] == name]


async def test_y_y_enter_in_one_burst_as_the_reviewer_opens_applies_both_hunks(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await burst(pilot, "y", "y", "enter")  # no pause: the screen may still be drawing
        await app.workers.wait_for_complete()
    assert [d["decision"] for d in events("HUNK_DECISION")] == ["approve", "approve"]
    [applied] = events("PATCH_APPLIED")
    assert [h["status"] for h in applied["hunks"]] == ["applied", "applied"]  # type: ignore[index]
    assert "counts words" in (root / "README.md").read_text()


async def test_enter_with_nothing_approved_asks_and_going_back_keeps_the_review(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question")
        await pilot.press("escape")  # go back
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await burst(pilot, "n", "n", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question again")
        await pilot.press("y")  # apply nothing, and say so
        await app.workers.wait_for_complete()
    assert not events("PATCH_APPLIED")
    assert "return len(text)" in (root / "textstats.py").read_text()


async def test_typing_a_reason_in_the_tool_ask_never_fires_a_shortcut(tmp_path: Path) -> None:
    scenario = {"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["look"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "run_command", "arguments": {"command": "git status"}}]}},
        {"when": {"role": "coder"}, "reply": "done"},
        {"when": {"role": "reviewer"}, "reply": "ok"},
    ]}
    app = make_app(workspace(tmp_path / "repo"), scenario)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "check")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ToolAskModal), "the tool ask")
        await burst(pilot, *"use", "space", *"ruff", "enter")  # 's', 'o' allow, 'd' denies
        await app.workers.wait_for_complete()
    [resolved] = [d for d in events("CHECKPOINT_RESOLVED") if d["checkpoint"] == "tool"]
    assert resolved["decision"] == "reject" and resolved["comment"] == "use ruff"
    assert not [d for d in events("TOOL_RESULT") if d["tool"] == "run_command"]


async def test_ctrl_j_then_text_in_one_burst_keeps_their_order(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        prompt = app.workbench.query_one(PromptInput)
        prompt.focus()
        await burst(pilot, *"one", "ctrl+j", *"two", "ctrl+j", *"three")
        assert prompt.text == "one\ntwo\nthree"


async def test_a_mode_change_is_recorded_with_who_made_it(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await pilot.press("shift+tab", "shift+tab")
    assert events("MODE_CHANGED") == [{"from": "research", "to": "auto", "by": "person"},
                                      {"from": "auto", "to": "silent", "by": "person"}]


async def test_text_typed_during_a_failing_turn_is_kept_beside_the_failed_message(
        tmp_path: Path) -> None:
    scenario = {"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "q",
                                                        "experts": []}}},
        {"when": {"role": "coder"}, "fault": "stream_error", "after_chunks": 4,  # fails late
         "reply": {"content": "a partial answer", "chunks": 4, "delay_ms": 150}},
    ]}
    app = make_app(workspace(tmp_path / "repo"), scenario)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "first question")
        prompt = app.workbench.query_one(PromptInput)
        await burst(pilot, *"next", "space", *"one")  # typed while the turn runs and fails
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert prompt.text == "first question\nnext one"
