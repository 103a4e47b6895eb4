"""The workbench as a daily driver: a session continued after quitting, commits SAGE makes (and
what a hostile repository cannot make them run), `/model`, `/clear`, `!cmd`, `@path` completion."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TextArea

from sage_tui.core.log.sessionlog import read_session
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import CommentModal, CommitModal, ConfirmModal, PlanModal
from sage_tui.ui.screens.pickers import Picker
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from sage_tui.ui.widgets.status_bar import StatusBar
from tests.helpers import sessions_dir
from tests.ui.harness import FrozenApp, make_app, workspace
from tests.ui.test_waiting_patches import leave_waiting
from tests.ui.test_workbench_pilot import QA, SIZE, send, texts, until

pytestmark = pytest.mark.anyio
MODELS: dict[str, Any] = {**QA, "models": ["demo-model", "qwen2.5-coder:14b"]}


def logged(name: str) -> list[dict[str, Any]]:
    return [r for r in read_session("ui-test-session", sessions_dir()) if r["event"] == name]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


async def ready(app: FrozenApp, pilot: Any) -> None:
    """The session is there and takes input (a continued one redraws its log first)."""
    await until(pilot, lambda: app.session is not None
                and not app.workbench.query_one(PromptInput).disabled, "the session")


async def apply_demo_patch(app: FrozenApp, pilot: Any) -> None:
    await ready(app, pilot)
    await send(pilot, "fix it")
    await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
    await pilot.press("y", "y", "enter")
    await until(pilot, lambda: not app._turn_running, "the turn")


def router_saw(app: FrozenApp) -> str:
    return json.dumps([r.messages for r in app.backend.requests  # type: ignore[attr-defined]
                       if r.role == "router"][-1])


async def test_a_continued_session_has_its_transcript_turns_and_tokens_back(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    first = make_app(root, QA)
    async with first.run_test(size=SIZE) as pilot:
        await ready(first, pilot)
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: not first._turn_running, "the turn")
        await first.workers.wait_for_complete()
        tokens = first.workbench.query_one(StatusBar).state.prompt_tokens
    assert tokens > 0
    again = make_app(root, QA)  # the same session id: `sage resume ui-test-session`
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        shown = texts(again)
        assert "where is word_count?" in shown and "textstats.py:11" in shown  # the transcript
        assert "Continued session ui-test-session" in shown and "next turn is 2" in shown
        await until(pilot, lambda: again.workbench.query_one(StatusBar).state.prompt_tokens
                    == tokens, "the token totals")
        await send(pilot, "and where is it tested?")
        await until(pilot, lambda: not again._turn_running, "the second turn")
        assert "where is word_count?" in router_saw(again)  # the router has the history
        assert again.workbench.query_one(StatusBar).state.prompt_tokens > tokens
    turns = [r["turn"] for r in logged("USER_MESSAGE")]
    assert turns == [1, 2]
    assert logged("SESSION_ENDED")[-1]["data"]["turns"] == 2


async def test_a_waiting_patch_waits_in_the_continued_session(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    first = make_app(root)
    async with first.run_test(size=SIZE) as pilot:
        patch_id = await leave_waiting(first, pilot, "y")  # one hunk approved, then Escape
    again = make_app(root)
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        queue = again.workbench.query_one(PatchQueue)
        assert queue.patches[patch_id].state == "waiting"
        assert again.session is not None and again.session.orchestrator.waiting == [patch_id]
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(again.screen, DiffReviewScreen), "the reviewer")
        screen = again.screen
        assert isinstance(screen, DiffReviewScreen) and len(screen.review.approved) == 1
        await pilot.press("y", "enter")  # the second hunk, then apply both
        await until(pilot, lambda: not again._turn_running, "the apply")
    assert "counts words" in (root / "README.md").read_text()
    [applied] = [r["data"] for r in logged("PATCH_APPLIED")]
    assert applied["patch_id"] == patch_id and len(applied["files"]) == 2


async def test_commit_holds_only_sages_files_and_runs_nothing_the_repository_names(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await apply_demo_patch(app, pilot)
        # The person's own staged work, and a repository that names programs to run.
        (root / "notes.txt").write_text("mine\n")
        git(root, "add", "notes.txt")
        marker = tmp_path / "ran"
        hook = root / ".git" / "hooks" / "pre-commit"
        hook.write_text(f"#!/bin/sh\ntouch {marker}-hook\n")
        hook.chmod(0o755)
        (root / ".gitattributes").write_text("*.py filter=evil\n*.md filter=evil\n")
        git(root, "config", "filter.evil.clean", f"sh -c 'touch {marker}-filter; tr a-z A-Z'")
        git(root, "config", "core.hooksPath", ".git/hooks")
        git(root, "config", "gpg.program", f"sh -c 'touch {marker}-gpg'")
        git(root, "config", "commit.gpgSign", "true")
        await send(pilot, "/commit Document word_count")
        await until(pilot, lambda: "Committed" in texts(app), "the commit")
    assert not list(tmp_path.glob("ran-*"))  # no hook, no filter, no signing program ran
    message = git(root, "log", "-1", "--format=%B")
    assert message.startswith("Document word_count\n")
    assert "Sage-Session: ui-test-session" in message and "Co-authored-by: SAGE (demo-model)" in message
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == ["README.md", "textstats.py"]  # not the person's staged notes.txt
    assert git(root, "show", "HEAD:README.md") == (root / "README.md").read_text()  # unfiltered
    assert "A  notes.txt" in git(root, "status", "--short")  # still staged, still theirs
    [created] = [r["data"] for r in logged("COMMIT_CREATED")]
    assert created["sha"] == git(root, "rev-parse", "HEAD").strip() and created["by"] == "person"


async def test_the_commit_offer_then_undo_of_the_commit_is_a_revert(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    before = {name: (root / name).read_text() for name in ("textstats.py", "README.md")}
    app = make_app(root, commit="ask")
    async with app.run_test(size=SIZE) as pilot:
        await apply_demo_patch(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, CommitModal)
                    and bool(app.screen.query("#commit-message")), "the commit offer")
        suggested = app.screen.query_one("#commit-message", TextArea).text
        assert suggested.startswith("fix it\n\n")  # the request, then the reviewer's summary
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Committed" in texts(app), "the commit")
        committed = git(root, "rev-parse", "HEAD").strip()
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the revert question")
        assert f"is in commit {committed[:10]}" in str(app.screen.question)
        await pilot.press("y")
        await until(pilot, lambda: "the revert of commit" in texts(app), "the revert")
        assert {n: (root / n).read_text() for n in before} == before
        await send(pilot, "/redo")  # landed again, uncommitted: undoing it is no revert
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the redo question")
        await pilot.press("y")
        await until(pilot, lambda: "applied again" in texts(app), "the redo")
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the undo question")
        assert "is in commit" not in str(app.screen.question)
        await pilot.press("y")
        await until(pilot, lambda: texts(app).count("restored") >= 2, "the plain undo")
    assert f"This reverts commit {committed}." in git(root, "log", "-1", "--format=%B")
    assert git(root, "status", "--short").strip() == ""
    reverts = [r["data"].get("reverts") for r in logged("COMMIT_CREATED")]
    assert reverts == [None, committed]


async def test_model_picks_for_the_session_and_refuses_what_is_not_pulled(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), MODELS)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "/model coder qwen2.5-coder:7b")
        await until(pilot, lambda: "is not on the coder's server" in texts(app), "the refusal")
        await send(pilot, "/model")
        await until(pilot, lambda: isinstance(app.screen, Picker), "the model picker")
        await pilot.press("down", "enter")
        await until(pilot, lambda: "now uses qwen2.5-coder:14b" in texts(app), "the switch")
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: not app._turn_running, "the turn")
    routed = [r["data"] for r in logged("MODEL_ROUTING_DECISION") if r["data"]["role"] == "coder"]
    assert routed[0]["reason"] == "user" and "call_id" not in routed[0]
    assert (routed[-1]["model"], routed[-1]["reason"]) == ("qwen2.5-coder:14b", "user")


async def test_clear_starts_a_new_conversation_in_the_same_log(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: not app._turn_running, "the turn")
        await send(pilot, "/clear")
        await until(pilot, lambda: "A new conversation" in texts(app), "the cleared pane")
        assert "where is word_count?" not in texts(app)
        await send(pilot, "what about lines?")
        await until(pilot, lambda: not app._turn_running, "the next turn")
        assert "where is word_count?" not in router_saw(app)
    assert logged("CONVERSATION_CLEARED")[0]["data"] == {"by": "person", "messages": 2}


async def test_bang_runs_a_command_the_person_typed_under_the_policy(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root, QA)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "!git log --format=%s")
        await until(pilot, lambda: "textstats: initial version" in texts(app), "the output")
    [call] = [r["data"] for r in logged("TOOL_CALL")]
    assert call["by"] == "person" and call["args"] == {"command": "git log --format=%s"}
    [decision] = [r["data"] for r in logged("POLICY_DECISION")]
    assert (decision["verdict"], decision["rule"]) == ("allow", "typed by the person")
    assert not logged("USER_MESSAGE")  # the model never heard of it
    locked = make_app(root, QA, policy="read_only")
    async with locked.run_test(size=SIZE) as pilot:
        await ready(locked, pilot)
        await send(pilot, f"!touch {root / 'made'}")
        await until(pilot, lambda: "The tool policy denies running" in texts(locked), "the denial")
    assert not (root / "made").exists()


async def test_at_completes_fuzzily_and_the_context_box_lists_the_pin(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        prompt = app.workbench.query_one(PromptInput)
        await pilot.press(*"/add txst", "tab")  # /add takes bare paths
        assert prompt.text == "/add textstats.py"
        prompt.clear()
        await pilot.press(*"explain @txst", "tab")
        assert prompt.text == "explain @textstats.py"
        await pilot.press("space", "tab")  # after a space there is nothing to complete
        assert prompt.text == "explain @textstats.py "
        prompt.focus()
        await pilot.press("enter")
        await until(pilot, lambda: not app._turn_running, "the turn")
        await app.workers.wait_for_complete()
        box = app.workbench.query_one("#context")
        await until(pilot, lambda: box.display and "@textstats.py" in str(box.render()),
                    "the Context box")
        await send(pilot, "/drop all")
        await until(pilot, lambda: not box.display, "an empty Context box hides")


async def test_resume_in_the_workbench_picks_another_session_of_this_workspace(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    earlier = make_app(root, QA)
    async with earlier.run_test(size=SIZE) as pilot:
        await ready(earlier, pilot)
        await send(pilot, "where is word_count?")
        await until(pilot, lambda: not earlier._turn_running, "the turn")
    app = make_app(root, QA, session_id="the-second-one")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await send(pilot, "/resume")
        await until(pilot, lambda: isinstance(app.screen, Picker), "the session picker")
        options = app.screen.query_one("OptionList").options  # type: ignore[attr-defined]
        assert [o.id for o in options] == ["ui-test-session"]  # not the one it is in
        assert "where is word_count?" in str(options[0].prompt)
        await pilot.press("enter")
        await until(pilot, lambda: app.next_session is not None, "the choice")
    assert app.next_session == "ui-test-session"  # `sage` opens it next
    ended = [r for r in read_session("the-second-one", sessions_dir())
             if r["event"] == "SESSION_ENDED"]
    assert len(ended) == 1  # the session it left ended as usual


async def test_a_declined_offer_is_not_made_again_for_the_same_changes(tmp_path: Path) -> None:
    from sage_tui.ui.slash_actions import offer_commit

    app = make_app(workspace(tmp_path / "repo"), commit="ask")
    async with app.run_test(size=SIZE) as pilot:
        await apply_demo_patch(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, CommitModal), "the commit offer")
        await pilot.press("escape")
        await until(pilot, lambda: "Not committed; /commit" in texts(app), "the decline")
        offer_commit(app)  # the next turn ends: the same changes are not offered again
        await pilot.pause(0.1)
        assert not isinstance(app.screen, CommitModal)
        await send(pilot, "/commit")  # asked for: offered
        await until(pilot, lambda: isinstance(app.screen, CommitModal), "the asked-for offer")


async def test_pins_and_hunk_comments_come_back_with_the_session(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    first = make_app(root)
    async with first.run_test(size=SIZE) as pilot:
        await ready(first, pilot)
        await send(pilot, "/add textstats.py:1-5")
        await until(pilot, lambda: "Pinned @textstats.py" in texts(first), "the pin")
        await send(pilot, "fix it")
        await until(pilot, lambda: isinstance(first.screen, PlanModal), "the plan")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(first.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(first.screen, CommentModal), "the comment box")
        await pilot.press(*"keep the docstring", "enter")
        await until(pilot, lambda: isinstance(first.screen, DiffReviewScreen), "back")
        await pilot.press("escape")  # the patch waits, with the comment
        await until(pilot, lambda: not first._turn_running, "the turn")
    again = make_app(root)
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        assert again.session is not None
        assert again.session.orchestrator.experts.pins() == ["textstats.py:1-5"]
        box = again.workbench.query_one("#context")
        assert "@textstats.py:1-5" in str(box.render())
        [review] = again.session.orchestrator.code.gate.waiting.values()  # type: ignore[union-attr]
        assert ["keep the docstring"] in review.comments.values()
