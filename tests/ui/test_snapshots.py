"""Snapshot tests: what the workbench looks like, frozen as SVG baselines in `snapshots/`.

Update baselines only after looking at them: `pytest tests/ui/test_snapshots.py
--snapshot-update`, then open the SVGs (e.g. `rsvg-convert -o shot.png file.svg`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import EventDetailModal, PlanModal, ToolAskModal
from tests.ui.harness import make_app, workspace
from tests.ui.test_workbench_pilot import QA, send, texts, until

TOOL = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "look around",
                                                    "experts": []}}},
    {"when": {"role": "planner"}, "reply": {"json": {"steps": ["Check the working tree"]}}},
    {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
        {"name": "run_command", "arguments": {"command": "git status --short"}}]}},
    {"when": {"role": "coder"}, "reply": "Looked."},
]}
STALL = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "a question",
                                                    "experts": []}}},
    {"when": {"role": "coder"}, "fault": "stall", "after_chunks": 9, "reply":
        "word_count returns **len(text)**, the number of characters, not words. The fix is to "
        "count words()."},
]}
REFUSED = {"rules": [{"when": {}, "fault": "refused"}]}


def app_for(tmp_path: Path, scenario: Any = None, **kwargs: Any) -> Any:
    return make_app(workspace(tmp_path / "repo"), scenario, **kwargs)


async def ready(pilot: Pilot[None]) -> None:
    await until(pilot, lambda: pilot.app.session is not None, "the session")  # type: ignore[attr-defined]
    await pilot.pause(0.2)


def test_idle_workbench(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=(140, 45), run_before=ready)


def test_idle_workbench_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=(80, 24), run_before=ready)


def test_turn_mid_stream(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await send(pilot, "why is word_count wrong?")
        await until(pilot, lambda: "not words" in texts(pilot.app), "the streamed words")
        await pilot.pause(0.3)

    assert snap_compare(app_for(tmp_path, STALL, read_timeout=120), terminal_size=(140, 45),
                        run_before=run_before)


def test_filtered_events_with_details(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await send(pilot, "where is word_count?")
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f2", "slash", *"TOKEN_* ROUTE_*", "enter")
        await pilot.pause(0.2)
        await pilot.press("home", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, EventDetailModal), "details")
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path, QA), terminal_size=(140, 45), run_before=run_before)


def test_plan_modal(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await send(pilot, "fix the word count")
        await until(pilot, lambda: isinstance(pilot.app.screen, PlanModal), "the plan modal")
        await pilot.pause(0.3)

    assert snap_compare(app_for(tmp_path), terminal_size=(140, 45), run_before=run_before)


def test_tool_ask_modal(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await send(pilot, "check the tree")
        await until(pilot, lambda: isinstance(pilot.app.screen, PlanModal), "the plan modal")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, ToolAskModal), "the tool modal")
        for field in pilot.app.screen.query(Input):  # focus starts in the reason field now:
            field.cursor_blink = False  # a blinking cursor would make the picture flicker
        await pilot.pause(0.3)

    assert snap_compare(app_for(tmp_path, TOOL), terminal_size=(140, 45), run_before=run_before)


async def _to_reviewer(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await send(pilot, "fix the word count")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlanModal), "the plan modal")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, DiffReviewScreen), "the reviewer")
    await pilot.pause(0.3)


def test_diff_reviewer_side_by_side(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _to_reviewer(pilot)
        await pilot.press("y")  # hunk 1 approved, on to hunk 2
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path), terminal_size=(170, 40), run_before=run_before)


def test_diff_reviewer_unified(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _to_reviewer(pilot)
        await pilot.press("v")
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path), terminal_size=(170, 40), run_before=run_before)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await pilot.press("f1")
        await pilot.pause(0.3)

    assert snap_compare(app_for(tmp_path), terminal_size=(140, 45), run_before=run_before)


def test_error_banner(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await ready(pilot)
        await send(pilot, "hello")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.3)

    assert snap_compare(app_for(tmp_path, REFUSED), terminal_size=(140, 45), run_before=run_before)
