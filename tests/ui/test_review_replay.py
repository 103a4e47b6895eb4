"""`sage review` (the reviewer alone, applying through the engine) and `sage replay`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.core.log.events import Event
from sage_tui.core.log.sessionlog import SessionLog
from sage_tui.core.patch.model import parse_patch
from sage_tui.factory import patch_engine
from sage_tui.ui.app import SageApp
from sage_tui.ui.review_app import ReviewApp
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from tests.conftest import git_repo
from tests.helpers import sessions_dir, state_of
from tests.ui.test_workbench_pilot import texts, until

pytestmark = pytest.mark.anyio
DIFF = ("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
        "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+BETA\n")


async def test_review_goes_through_the_checkpoint_service_and_audits(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\nthree\n", "b.txt": "alpha\nbeta\n"})
    engine = patch_engine(root, {"who": "sage review"})
    events: list[Event] = []
    app = ReviewApp(parse_patch(DIFF), engine, events.append)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("n", "y", "enter")  # at once: keys typed as the reviewer opens count
    assert app.result is not None and app.result.ok
    assert (root / "a.txt").read_text() == "one\ntwo\nthree\n"
    assert (root / "b.txt").read_text() == "alpha\nBETA\n"
    assert [str(e.name) for e in events] == [
        "PATCH_PROPOSED", "HUMAN_CHECKPOINT_REACHED", "HUNK_DECISION", "HUNK_DECISION",
        "CHECKPOINT_RESOLVED", "PATCH_APPLIED"]
    resolved = events[4].data
    assert resolved["decision"] == "approve" and resolved["by"] == "person"
    audit = [json.loads(line) for line in (state_of(root) / "audit.jsonl").read_text().splitlines()]
    decisions = [a for a in audit if a.get("action") == "hunk_decision"]
    assert [(a["decision"], a["who"]) for a in decisions] == [("reject", "person"),
                                                             ("approve", "person")]


async def test_review_escape_applies_nothing(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\nthree\n", "b.txt": "alpha\nbeta\n"})
    app = ReviewApp(parse_patch(DIFF), patch_engine(root), lambda event: None)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("y", "escape")
    assert app.result is None and app.decision is not None and app.decision.decision == "defer"
    assert (root / "a.txt").read_text() == "one\ntwo\nthree\n"


def test_review_command_rejects_a_bad_patch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.diff"
    bad.write_text("no diff here\n")
    out = subprocess.run([sys.executable, "-m", "sage_tui", "review", str(bad), "-w",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "holds no unified diff" in out.stderr


async def test_replay_plays_a_recorded_session_read_only(tmp_path: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="recorded") as log:
        log.emit("SESSION_STARTED", {"workspace": "/w/proj", "mode": "auto", "profile": None,
                                     "version": "0.1.0"}, turn=0)
        log.emit("USER_MESSAGE", {"text": "fix add", "role": "user"}, turn=1)
        log.emit("ROUTE_DECISION", {"route": "code", "experts": [], "reasoning": "a change",
                                    "source": "llm", "latency_ms": 12})
        log.emit("PATCH_PROPOSED", {"patch_id": "p-1", "files": ["a.txt", "b.txt"], "hunks": 2,
                                    "diff": DIFF})
        log.emit("HUNK_DECISION", {"patch_id": "p-1", "hunk_id": "h1", "hunk_sha": "x",
                                   "decision": "approve", "comment": None})
        log.emit("PATCH_APPLIED", {"patch_id": "p-1", "files": ["a.txt"], "hunks": []})
        log.emit("ASSISTANT_MESSAGE", {"text": "Done: add now adds.", "role": "reviewer"})
        log.emit("SESSION_ENDED", {"status": "ok", "turns": 1,
                                   "tokens": {"prompt_tokens": 1, "completion_tokens": 1}})
    from sage_tui.core.log.sessionlog import read_session

    records = list(read_session("recorded", sessions_dir()))
    app = SageApp(None, intro="replay", replay=records, replay_speed=0)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: "End of the recording" in texts(app), "the end")
        assert app.workbench.query_one(EventStream).visible_count == len(records)
        shown = texts(app)
        assert "fix add" in shown and "Done: add now adds." in shown
        queue = app.workbench.query_one(PatchQueue)
        assert [p.state for p in queue.patches.values()] == ["applied"]
        assert app.workbench.query_one(PromptInput).disabled
        await pilot.press("ctrl+r")  # the recorded diff opens in the reviewer
        from sage_tui.ui.screens.diff_review import DiffReviewScreen

        assert isinstance(app.screen, DiffReviewScreen)
        screen = app.screen
        assert "Patch p-1, applied (view only)" in str(screen.query_one("#review-title").render())
        # The recorded decisions, not "pending": h1 was approved, h2 never decided.
        assert screen.review.state("h1") == "approve" and screen.review.state("h2") == "pending"
        await pilot.press("n", "y", "enter")  # view-only: nothing to decide, nothing to apply
        assert screen.review.decisions == {"h1": "approve"} and app.screen is screen
