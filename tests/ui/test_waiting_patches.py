"""A patch waits: Escape leaves the reviewer and the patch stays in the queue with its
decisions, to be reopened, decided and applied later in the session, or discarded. The
mode cannot be switched past it without the person saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from sage_tui.core.log.sessionlog import read_session
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import ConfirmModal, PlanModal
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from tests.helpers import sessions_dir
from tests.ui.harness import FrozenApp, make_app, workspace
from tests.ui.test_keys_in_order import burst
from tests.ui.test_workbench_pilot import SIZE, send, texts, until

pytestmark = pytest.mark.anyio


def records(name: str) -> list[dict[str, object]]:
    return [r["data"] for r in read_session("ui-test-session", sessions_dir())
            if r["event"] == name]


async def leave_waiting(app: FrozenApp, pilot: Pilot[None], *keys: str) -> str:
    """Run the demo turn to its reviewer, press `keys`, leave with Escape; the patch id."""
    await until(pilot, lambda: app.session is not None, "the session")
    await send(pilot, "fix it")
    await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
    await burst(pilot, *keys, "escape")
    await until(pilot, lambda: not app._turn_running, "the end of the turn")
    [patch_id] = app.workbench.query_one(PatchQueue).patches
    return patch_id


async def test_escape_leaves_the_patch_waiting_and_it_is_applied_later(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        patch_id = await leave_waiting(app, pilot, "y")
        queue = app.workbench.query_one(PatchQueue)
        assert queue.patches[patch_id].state == "waiting"
        assert "waiting" in str(queue.get_option_at_index(0).prompt)
        assert f"Patch {patch_id} waits in the patch queue" in texts(app)
        assert app.workbench.query_one(PromptInput).text == ""  # waiting is not a failure
        assert not records("PATCH_APPLIED") and "counts words" not in (root / "README.md").read_text()
        [resolved] = [d for d in records("CHECKPOINT_RESOLVED") if d["checkpoint"] == "patch"]
        assert resolved["decision"] == "defer" and resolved["patch_id"] == patch_id
        assert app.session is not None and app.session.orchestrator.waiting == [patch_id]

        await pilot.press("ctrl+r")  # reopen: the decision made before is still there
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer again")
        screen = app.screen
        assert isinstance(screen, DiffReviewScreen)
        assert screen.review.state("h1") == "approve" and screen.review.pending == ["h2"]
        assert screen.hunk.hunk_id == "h2"  # it starts where the person left off
        await burst(pilot, "y", "enter")
        await until(pilot, lambda: not app._turn_running, "the reopened review to end")
        await app.workers.wait_for_complete()
        assert queue.patches[patch_id].state == "applied"
        assert app.session.orchestrator.waiting == []
        assert f"Patch {patch_id}: 2 hunk(s) applied" in texts(app)
    [applied] = records("PATCH_APPLIED")
    assert [h["status"] for h in applied["hunks"]] == ["applied", "applied"]  # type: ignore[index]
    assert "counts words" in (root / "README.md").read_text()
    assert records("TEST_RUN"), "the tests run after a reopened patch is applied"
    decisions = [(d["hunk_id"], d["decision"]) for d in records("HUNK_DECISION")]
    assert decisions == [("h1", "approve"), ("h2", "approve")]


async def test_a_discarded_patch_leaves_the_queue_and_nothing_lands(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    before = (root / "textstats.py").read_text()
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        patch_id = await leave_waiting(app, pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "are you sure")
        await pilot.press("y")
        await until(pilot, lambda: not app._turn_running, "the review to end")
        assert app.workbench.query_one(PatchQueue).patches[patch_id].state == "discarded"
        assert app.session is not None and app.session.orchestrator.waiting == []
        await pilot.press("ctrl+r")  # now only a view of what was recorded
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the view")
        assert app.screen.view_only  # type: ignore[attr-defined]
    assert not records("PATCH_APPLIED") and (root / "textstats.py").read_text() == before


async def test_switching_to_auto_with_a_patch_waiting_asks_first(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await leave_waiting(app, pilot)
        assert app.session is not None
        await pilot.press("shift+tab")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question")
        await pilot.press("n")  # stay
        assert app.session.orchestrator.mode == "research" and not records("MODE_CHANGED")
        await pilot.press("shift+tab")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: app.session.orchestrator.mode == "auto", "auto mode")
        [change] = records("MODE_CHANGED")
        assert change == {"from": "research", "to": "auto", "by": "person"}
        # In auto mode, the person who reopens a waiting patch still decides it.
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        assert not records("PATCH_APPLIED")
        await pilot.press("escape")
        await until(pilot, lambda: not app._turn_running, "the review to end")
        assert app.session.orchestrator.waiting


FIX = ('--- a/textstats.py\n+++ b/textstats.py\n@@ -11,4 +11,4 @@\n def word_count(text):\n'
       '     """How many words `text` has."""\n-    return len(text)\n+    return len(words(text))\n \n')
NOTE = ('--- a/README.md\n+++ b/README.md\n@@ -1,4 +1,5 @@\n # textstats\n \n'
        ' Tiny text statistics for the SAGE demo: `word_count(text)` and `top_words(text, n)`.\n'
        '+`word_count` counts words, ignoring punctuation.\n'
        ' Run the tests with `python -m unittest` (or `python -m pytest`).\n')


def two_patches(*diffs: str) -> dict[str, object]:
    """A model that proposes each of `diffs` as its own patch, in one reply."""
    return {"label": "scripted model", "rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["fix it"]}}},
        {"when": {"role": "coder", "has_tools": True}, "times": 1, "reply": {"tool_calls": [
            {"name": "propose_patch", "arguments": {"diff": d}} for d in diffs]}},
        {"when": {"role": "coder"}, "reply": "proposed"},
        {"when": {"role": "reviewer"}, "reply": "done"},
    ]}


async def to_reviewer(app: FrozenApp, pilot: Pilot[None]) -> None:
    await until(pilot, lambda: app.session is not None, "the session")
    await send(pilot, "fix it")
    await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")


async def test_stopping_the_turn_in_the_reviewer_leaves_the_patch_waiting(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"))
    async with app.run_test(size=SIZE) as pilot:
        await to_reviewer(app, pilot)
        await pilot.press("y")  # one decision
        await until(pilot, lambda: app.screen.review.decisions == {"h1": "approve"},  # type: ignore[attr-defined]
                    "the decision")
        await burst(pilot, "ctrl+c")  # then Stop
        await until(pilot, lambda: not app._turn_running, "the turn to stop")
        assert app.session is not None
        [patch_id] = app.session.orchestrator.waiting
        assert app.workbench.query_one(PatchQueue).patches[patch_id].state == "waiting"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        assert app.screen.review.state("h1") == "approve"  # type: ignore[attr-defined]
    assert [r["decision"] for r in records("CHECKPOINT_RESOLVED")
            if r["checkpoint"] == "patch"] == ["defer"]
    assert records("TURN_CANCELLED") == [{"turn": 1, "by": "person"}]


async def test_two_fast_escapes_leave_both_patches_waiting_and_no_dead_reviewer(
        tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), two_patches(FIX, NOTE))
    async with app.run_test(size=SIZE) as pilot:
        await to_reviewer(app, pilot)
        await burst(pilot, "escape", "escape")  # leave patch 1, then Stop the turn
        await until(pilot, lambda: not app._turn_running, "the turn to end")
        await pilot.pause()
        assert app.session is not None and len(app.session.orchestrator.waiting) == 2
        assert app.screen is app.workbench and app._approval is None
        states = [p.state for p in app.workbench.query_one(PatchQueue).patches.values()]
        assert states == ["waiting", "waiting"]


async def test_discarding_one_patch_still_puts_the_next_to_the_person(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root, two_patches(FIX, NOTE))
    async with app.run_test(size=SIZE) as pilot:
        await to_reviewer(app, pilot)
        await burst(pilot, "d", "y")  # discard the first, are you sure: yes
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen)
                    and app.screen.review.patch.paths == ["README.md"],  # type: ignore[attr-defined]
                    "the second patch's reviewer")
        await burst(pilot, "y", "enter")
        await until(pilot, lambda: not app._turn_running, "the turn to end")
    assert "counts words" in (root / "README.md").read_text()
    assert "len(words(text))" not in (root / "textstats.py").read_text()


async def test_the_same_diff_proposed_again_is_a_new_patch(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), two_patches(FIX, FIX))
    async with app.run_test(size=SIZE) as pilot:
        await to_reviewer(app, pilot)
        await burst(pilot, "escape")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen)
                    and app.screen.review.patch.patch_id.endswith("-2"),  # type: ignore[attr-defined]
                    "the second proposal, with an id of its own")
        await burst(pilot, "escape")
        await until(pilot, lambda: not app._turn_running, "the turn to end")
        assert app.session is not None
        first, second = app.session.orchestrator.waiting
        assert second == f"{first}-2"
