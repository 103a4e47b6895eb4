"""The workbench driven with Pilot: turns, modals, hunk review, modes, stop, errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from sage_tui.core.log.sessionlog import read_session
from sage_tui.core.patch.model import parse_patch
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.help import HelpScreen
from sage_tui.ui.screens.modals import (
    CommentModal,
    EditHunkModal,
    EventDetailModal,
    PlanModal,
    ToolAskModal,
)
from sage_tui.ui.widgets.banner import ErrorBanner
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from sage_tui.ui.widgets.status_bar import StatusBar
from tests.helpers import sessions_dir
from tests.ui.harness import make_app, workspace

pytestmark = pytest.mark.anyio
SIZE = (140, 45)

QA: dict[str, Any] = {"label": "scripted model", "rules": [
    {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "a question",
                                                    "experts": ["retrieval"]}}},
    {"when": {"role": "coder"}, "reply": {"content": "word_count is in **textstats.py:11**.",
                                          "chunks": 6, "delay_ms": 5}},
]}


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def texts(app: Any) -> str:
    conversation = app.workbench.query_one(Conversation)
    out = []
    for widget in conversation.walk_children():
        if hasattr(widget, "source"):
            out.append(str(widget.source))
        elif hasattr(widget, "render"):
            with contextlib.suppress(Exception):
                out.append(str(widget.render()))
    return "\n".join(out)


async def send(pilot: Pilot[None], text: str) -> None:
    prompt = pilot.app.workbench.query_one(PromptInput)  # type: ignore[attr-defined]
    prompt.focus()
    prompt.text = text
    await pilot.press("enter")


async def test_a_turn_streams_into_the_conversation(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "where is word_count?")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "textstats.py:11" in texts(app)
        stream = app.workbench.query_one(EventStream)
        events = [r["event"] for r in stream.records]
        assert events[:3] == ["SESSION_STARTED", "USER_MESSAGE", "MODEL_ROUTING_DECISION"]
        assert "ASSISTANT_MESSAGE" in events
        status = str(app.workbench.query_one(StatusBar).render())
        assert "research" in status and "tokens" in status and "coder" in status
        assert app.workbench.query_one(PromptInput).text == ""
    recorded = [r["event"] for r in read_session("ui-test-session", sessions_dir())]
    assert recorded[:2] == ["SESSION_STARTED", "USER_MESSAGE"] and recorded[-1] == "SESSION_ENDED"


async def test_the_demo_flow_plan_then_hunks_then_apply(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "anything at all")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        assert "Read textstats.py" in str(app.screen.request.steps)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("y", "n", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        queue = app.workbench.query_one(PatchQueue)
        assert [p.state for p in queue.patches.values()] == ["applied"]
    assert "return len(words(text))" in (root / "textstats.py").read_text()
    assert "counts words" not in (root / "README.md").read_text()
    decisions = [(r["data"]["hunk_id"], r["data"]["decision"])
                 for r in read_session("ui-test-session", sessions_dir()) if r["event"] == "HUNK_DECISION"]
    assert decisions == [("h1", "approve"), ("h2", "reject")]


async def test_plan_rejection_reaches_the_core(tmp_path: Path) -> None:
    root = workspace(tmp_path / "repo")
    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "go")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("escape")  # every exit resolves: escape rejects
        await app.workers.wait_for_complete()
    resolved = [r["data"] for r in read_session("ui-test-session", sessions_dir())
                if r["event"] == "CHECKPOINT_RESOLVED"]
    assert resolved[0]["decision"] == "reject"
    assert "return len(text)" in (root / "textstats.py").read_text()


async def test_tool_ask_modal_allows_for_the_session(tmp_path: Path) -> None:
    scenario = {"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["look"]}}},
        {"when": {"role": "coder"}, "times": 1, "reply": {"tool_calls": [
            {"name": "run_command", "arguments": {"command": "git status --short"}}]}},
        {"when": {"role": "coder"}, "reply": "Looked."},
    ]}
    app = make_app(workspace(tmp_path / "repo"), scenario)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "check")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan modal")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ToolAskModal), "the tool modal")
        assert app.screen.request.target == "git status --short"
        await pilot.press("tab", "s")  # out of the reason field first: typing never allows
        await app.workers.wait_for_complete()
    records = list(read_session("ui-test-session", sessions_dir()))
    tool = [r["data"] for r in records if r["event"] == "CHECKPOINT_RESOLVED"][1]
    assert tool["decision"] == "approve_session"
    assert any(r["event"] == "TOOL_RESULT" and r["data"]["tool"] == "run_command"
               for r in records)


async def test_review_keys_edit_comment_split_undo(tmp_path: Path) -> None:
    workspace(tmp_path / "repo")
    diff = ("--- a/textstats.py\n+++ b/textstats.py\n@@ -1,8 +1,8 @@\n-\"\"\"Word statistics "
            "for plain text.\"\"\"\n+\"\"\"Word statistics.\"\"\"\n \n from collections import "
            "Counter\n \n \n def words(text):\n     \"\"\"The words of `text`, lower-cased, "
            "punctuation stripped.\"\"\"\n-    return [w.strip(\".,;:!?\\\"'()\").lower() for w in "
            "text.split() if w.strip(\".,;:!?\\\"'()\")]\n+    return text.lower().split()\n")
    patch = parse_patch(diff)
    seen: list[tuple[str, str, str | None]] = []
    from textual.app import App

    class Harness(App[None]):
        def on_mount(self) -> None:
            self.push_screen(DiffReviewScreen(patch, lambda h, d, c: seen.append((h.hunk_id, d, c))),
                             self.done)

        def done(self, decision: Any) -> None:
            self.result = decision
            self.exit()

    app = Harness()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffReviewScreen)
        await pilot.press("s")  # two changes apart: split
        assert [h.hunk_id for h in screen.hunks] == ["h1.1", "h1.2"]
        await pilot.press("c")
        assert isinstance(app.screen, CommentModal)
        await pilot.press(*"keep the docstring", "enter")
        await pilot.press("y")  # approve h1.1
        await pilot.press("e")  # edit h1.2
        assert isinstance(app.screen, EditHunkModal)
        editor = app.screen.query_one("TextArea")
        editor.text = editor.text.replace("text.lower().split()", "text.casefold().split()")
        await pilot.press("ctrl+s")
        assert screen.review.state("h1.2") == "approve"
        await pilot.press("u")  # undo the edit
        assert screen.review.state("h1.2") == "pending"
        await pilot.press("v")  # unified, then back
        await pilot.press("v")
        await pilot.press("n", "enter")
    assert [d for _, d, _ in seen] == ["comment", "approve", "edit", "undo", "reject"]
    assert seen[0] == ("h1.1", "comment", "keep the docstring")
    decision = app.result
    assert decision.decision == "approve" and decision.review.approved == ["h1.1"]
    assert decision.review.comments["h1.1"] == ["keep the docstring"]


async def test_mode_cycling_and_help_and_event_details(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await pilot.press("shift+tab")
        assert app.session.orchestrator.mode == "auto"
        assert app.session.orchestrator.code.mode == "auto"
        await pilot.press("shift+tab", "shift+tab")
        assert app.session.orchestrator.mode == "research"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        stream = app.workbench.query_one(EventStream)
        stream.focus()
        await pilot.pause(0.1)
        await pilot.press("home", "enter")
        assert isinstance(app.screen, EventDetailModal)
        assert app.screen.record["event"] == "SESSION_STARTED"
        await pilot.press("escape")
        await pilot.press("ctrl+f")  # `/` belongs to the prompt
        await pilot.press(*"USER_*", "enter")
        await send(pilot, "where is word_count?")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert stream.visible_count == 1 and stream.filter_text == "USER_MESSAGE"


async def test_escape_stops_a_running_turn(tmp_path: Path) -> None:
    scenario = {"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "qa", "reasoningText": "q",
                                                        "experts": []}}},
        {"when": {"role": "coder"}, "fault": "stall", "after_chunks": 2,
         "reply": "first second third fourth"},
    ]}
    app = make_app(workspace(tmp_path / "repo"), scenario, read_timeout=60)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "a long one")
        await until(pilot, lambda: "first" in texts(app), "the first words")
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Stopped" in texts(app)
        assert not app._turn_running


async def test_unreachable_ollama_shows_the_banner_and_keeps_the_prompt(tmp_path: Path) -> None:
    scenario = {"rules": [{"when": {}, "fault": "refused"}]}
    app = make_app(workspace(tmp_path / "repo"), scenario)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "hello there")
        await app.workers.wait_for_complete()
        await pilot.pause()
        banner = app.workbench.query_one(ErrorBanner)
        assert banner.has_class("shown")
        assert "ollama serve" in str(banner.render())
        assert app.workbench.query_one(PromptInput).text == "hello there"


async def test_prompt_history_and_multiline(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "first question")
        await app.workers.wait_for_complete()
        prompt = app.workbench.query_one(PromptInput)
        prompt.focus()
        await pilot.press(*"line one", "ctrl+j", *"line two")
        assert prompt.text == "line one\nline two"
        prompt.text = ""
        await pilot.press("up")
        assert prompt.text == "first question"
        await pilot.press("down")
        assert prompt.text == ""


async def test_key_overrides_from_config_and_the_palette(tmp_path: Path) -> None:
    app = make_app(workspace(tmp_path / "repo"), QA)
    app.keys = {"app.help": "f5"}  # as `[keys]` in config.toml gives them
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)  # the old key no longer opens help
        await pilot.press("f5")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for action in ("Mode", "Help", "Review patch", "Filter events", "Events",
                       "Pause/follow", "Details"):
            assert action in titles, action
        assert "Stop" not in titles  # nothing runs: Stop would do nothing here


def test_config_keys_reach_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_tui.config import load_settings

    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('theme = "nord"\n[keys]\n"review.approve" = "Y"\n')
    monkeypatch.setenv("SAGE_HOME", str(tmp_path / "home"))
    settings = load_settings()
    assert settings.theme == "nord" and settings.keys == {"review.approve": "Y"}


def _ollama_app(root: Path, host: str) -> Any:
    """The workbench as `sage` builds it: real Ollama backends, here against `host`."""
    from sage_tui.config import Settings
    from sage_tui.factory import build_session
    from sage_tui.ui.app import SageApp

    settings = Settings(ollama_host=f"http://{host}", model_timeout=10)
    return SageApp(lambda bridge: build_session(root, settings=settings, subscribers=(bridge.sink,),
                                                approver=bridge, remember=False))


async def test_banner_at_start_when_ollama_is_down(tmp_path: Path, dead_host: str) -> None:
    app = _ollama_app(workspace(tmp_path / "repo"), dead_host)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.workbench.query_one(ErrorBanner)
        await until(pilot, lambda: banner.has_class("shown"), "the banner")
        assert f"Cannot reach Ollama at http://{dead_host}" in str(banner.render())
        assert app.workbench.query_one(PromptInput).disabled is False  # still usable


async def test_banner_names_models_to_pull_and_a_turn_over_http(
        tmp_path: Path, fake_ollama: Any) -> None:
    from sage_tui.config import default_models

    models = default_models()
    pulled = sorted({m.model for m in models.roles.values()} - {models.roles["summarizer"].model})
    server = fake_ollama({"models": pulled, "rules": QA["rules"]})
    app = _ollama_app(workspace(tmp_path / "repo"), server.host)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.workbench.query_one(ErrorBanner)
        await until(pilot, lambda: banner.has_class("shown"), "the banner")
        assert f"`ollama pull {models.roles['summarizer'].model}`" in str(banner.render())
        await send(pilot, "where is word_count?")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "textstats.py:11" in texts(app)
        assert not banner.has_class("shown")  # a good turn clears it
    assert server.chat_requests("coder")[0].body["options"]["num_ctx"] > 0


async def test_doctor_and_the_banner_say_the_same_about_the_same_server(
        tmp_path: Path, fake_ollama: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_tui.config import default_models
    from sage_tui.setup.doctor import run_checks

    models = default_models()
    pulled = sorted({m.model for m in models.roles.values()} - {models.roles["planner"].model})
    server = fake_ollama({"models": pulled, "rules": QA["rules"]})
    app = _ollama_app(workspace(tmp_path / "repo"), server.host)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.workbench.query_one(ErrorBanner)
        await until(pilot, lambda: banner.has_class("shown"), "the banner")
        shown = str(banner.render()).splitlines()[0]
    monkeypatch.setenv("OLLAMA_HOST", f"http://{server.host}")
    checks = await asyncio.to_thread(run_checks)  # as `sage doctor` runs it, off this loop
    [check] = [c for c in checks if c.name == "ollama"]
    assert check.status == "warn" and check.message == shown
    assert f"`ollama pull {models.roles['planner'].model}`" in shown
