"""Attacker's pass over the workbench's continued sessions: a mode from a headless run, a
damaged log, and a first message with brackets in the session picker."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import PlanModal
from sage_tui.ui.screens.pickers import Picker
from sage_tui.ui.widgets.patch_queue import PatchQueue
from tests.helpers import sessions_dir
from tests.ui.harness import make_app, workspace
from tests.ui.test_continue_and_commit import ready
from tests.ui.test_workbench_pilot import QA, SIZE, send, until

pytestmark = pytest.mark.anyio


async def test_continuing_after_a_silent_run_keeps_the_checkpoints_of_the_workbench(
        tmp_path: Path) -> None:
    """`sage run "..." --mode silent` from a script, then `sage --continue` (config: research):
    the person's next request must still stop at the plan and the patch."""
    root = workspace(tmp_path / "repo")
    headless = make_app(root, QA, mode="silent")  # the same session, as `sage run` left it
    async with headless.run_test(size=SIZE) as pilot:
        await ready(headless, pilot)
    readme = (root / "README.md").read_text()
    again = make_app(root)  # research, as configured; continues that session
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(again.screen, (PlanModal, DiffReviewScreen))
                    or not again._turn_running, "a checkpoint or the end of the turn")
        assert isinstance(again.screen, PlanModal), "the plan was approved without asking"
        assert (root / "README.md").read_text() == readme


async def test_a_damaged_log_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    first = make_app(root, QA)
    async with first.run_test(size=SIZE) as pilot:
        await ready(first, pilot)
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: not first._turn_running, "the turn")
    log = sessions_dir() / "ui-test-session.jsonl"
    lines = log.read_bytes().split(b"\n")
    lines[2] = b'{"seq": 3, "broken'  # a bad sector, a careless edit
    log.write_bytes(b"\n".join(lines))
    again = make_app(root, QA)  # `sage resume ui-test-session`
    async with again.run_test(size=SIZE) as pilot:  # it was: SessionLogCorrupt out of the app
        await until(pilot, lambda: again.return_code is not None, "the exit")
    assert again.return_code == 1  # one sentence, not a traceback
    assert again.session is None


async def test_a_first_message_with_brackets_lists_in_the_resume_picker(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    earlier = make_app(root, QA)
    async with earlier.run_test(size=SIZE) as pilot:
        await ready(earlier, pilot)
        await send(pilot, "why does re.sub(r'[/]', '', path) leave the slashes?")
        await until(pilot, lambda: not earlier._turn_running, "the turn")
    app = make_app(root, QA, session_id="the-second-one")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "/resume")
        await until(pilot, lambda: isinstance(app.screen, Picker), "the session picker")
        await pilot.pause()  # drawn: a markup error here ends the workbench
        options = app.screen.query_one("OptionList").options  # type: ignore[attr-defined]
        assert "re.sub(r'[/]'" in str(options[0].prompt)
        await pilot.press("enter")
        await until(pilot, lambda: app.next_session is not None, "the choice")
    assert app.next_session == "ui-test-session"


BRACKETED: dict = {"label": "scripted model", "rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "code",
                                                    "experts": ["retrieval"]}}},
    {"when": {"role": "planner"}, "reply": {"json": {"steps": ["Add the helper"]}}},
    {"when": {"role": "coder", "has_tools": True}, "times": 1, "reply": {
        "content": "Here it is.",
        "tool_calls": [{"name": "propose_patch", "arguments": {
            "description": "a helper",
            "diff": "--- /dev/null\n+++ b/util[/]x.py\n@@ -0,0 +1 @@\n+x = 1\n"}}]}},
    {"when": {"role": "coder"}, "reply": {"content": "Proposed."}},
    {"when": {"role": "reviewer"}, "reply": {"content": "Done."}},
]}


async def test_a_path_a_model_names_with_brackets_does_not_end_the_workbench(
        tmp_path: Path) -> None:
    """Any byte a model sends: a file name `util[/]x.py` is text in the patch queue and the
    reviewer, not markup (a MarkupError there ends the workbench, and every continue of the
    session redraws the record)."""
    root = workspace(tmp_path / "repo")
    app = make_app(root, BRACKETED)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "add a helper")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.pause()  # the file list and title drawn
        await pilot.press("escape")
        await until(pilot, lambda: not app._turn_running, "the turn")
        await pilot.pause()
        queue = app.workbench.query_one(PatchQueue)
        assert "util[/]x.py" in str(queue.get_option_at_index(0).prompt)  # as text
        assert app.is_running
