"""One redacted record stream: a turn whose command output, patch, review comment and answer hold
planted secrets leaves none in the log, the workbench's records, what the screen shows, the audit
trail or `sage doctor --json`; and the workbench's records are the log's, byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.log.sessionlog import read_session
from sage_tui.ui.screens.diff_review import DiffReviewScreen
from sage_tui.ui.screens.modals import CommentModal, PlanModal
from tests.helpers import sessions_dir, state_of
from tests.test_otel_export import Receiver
from tests.ui.harness import FrozenApp, make_app, workspace
from tests.ui.test_workbench_pilot import SIZE, send, texts, until

pytestmark = pytest.mark.anyio

GH = "gh" + "p_" + "Zx81Qa" * 6  # built from pieces: no real-looking token in the repository
OPENAI = "sk-" + "proj-" + "Kq7Lm2" * 8
DO = "do" + "p_v1_" + "a1b2c3d4" * 8
SECRETS = (GH, OPENAI, DO)
CONF = ('--- /dev/null\n+++ b/conf.json\n@@ -0,0 +1,3 @@\n+{\n'
        f'+  "openai": "{OPENAI}"\n+}}\n')


def scenario() -> dict[str, Any]:
    return {"label": "scripted model", "rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["add the config"]}}},
        {"when": {"role": "coder", "has_tools": True}, "times": 1, "reply": {"tool_calls": [
            {"name": "run_command", "arguments": {"command": f"echo token={GH}"}}]}},
        {"when": {"role": "coder", "has_tools": True}, "times": 1, "reply": {"tool_calls": [
            {"name": "propose_patch", "arguments": {"diff": CONF}}]}},
        {"when": {"role": "coder"}, "reply": "proposed conf.json"},
        {"when": {"role": "reviewer"}, "reply": {"content": f"Done. The key {DO} is in conf.json.",
                                                 "chunks": 5}},
    ]}


@pytest.fixture
def collector() -> Iterator[Receiver]:
    """An OTLP/HTTP receiver in this process (tests/test_otel_export.py)."""
    with Receiver.serving() as server:
        yield server


class Recording(FrozenApp):
    """The workbench, keeping every record it was handed."""

    shown: list[dict[str, Any]]

    async def show_record(self, record: dict[str, Any]) -> None:
        self.shown.append(json.loads(json.dumps(record)))  # as it arrived, before any pane
        await super().show_record(record)


def leaked(text: str) -> list[str]:
    return [s[:8] for s in SECRETS if s in text or s[:16] in text]


async def test_no_consumer_sees_a_secret_and_the_screen_shows_what_the_log_holds(
        tmp_path: Path, collector: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)  # spans too, with text
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    root = workspace(tmp_path / "repo")
    app = make_app(root, scenario(), policy="allow_commands")
    app.__class__ = Recording
    app.shown = []  # type: ignore[attr-defined]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "add the config")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CommentModal), "the comment box")
        await pilot.press(*f"leaked {GH}")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DiffReviewScreen), "the reviewer")
        await pilot.press("y", "enter")
        await until(pilot, lambda: not app._turn_running and "conf.json" in texts(app),
                    "the end of the turn")
        on_screen = texts(app)
    assert (root / "conf.json").is_file()  # the turn did what it was asked
    assert "The key [REDACTED:digitalocean_token] is in conf.json" in on_screen  # streamed
    log = list(read_session("ui-test-session", sessions_dir()))
    raw_log = "\n".join(p.read_text() for p in sessions_dir().glob("ui-test-session*.jsonl"))
    audit = (state_of(root) / "audit.jsonl").read_text()
    assert "leaked [REDACTED:github_token]" in audit  # the comment is there, its token is not
    assert receiver.got.wait(10), "no spans arrived"
    spans = str([(s.name, s.attributes, s.events) for s in receiver.spans])
    assert "execute_tool run_command" in spans and "gen_ai.user.message" in spans
    for name, text in (("log", raw_log), ("screen", on_screen), ("audit", audit),
                       ("records", json.dumps(app.shown)),  # type: ignore[attr-defined]
                       ("spans", spans)):
        assert not leaked(text), f"the {name} holds {leaked(text)}"
    shown = app.shown  # type: ignore[attr-defined]
    assert len(shown) >= len(log) - 1  # all but SESSION_ENDED, written as the app closed
    assert shown == log[:len(shown)]  # the very records the log holds: seq, ts, data
    assert {r["event"] for r in shown} >= {"TOOL_RESULT", "PATCH_PROPOSED", "HUNK_DECISION",
                                          "ASSISTANT_MESSAGE"}


def test_doctor_json_never_prints_the_host_password(tmp_path: Path) -> None:
    password = "Hu" + "nter2-" + "x9"
    out = subprocess.run([sys.executable, "-m", "sage_tui", "doctor", "--json"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SAGE_HOME": str(tmp_path / "home"),
                              "OLLAMA_HOST": f"http://admin:{password}@127.0.0.1:9"})
    checks = json.loads(out.stdout)["checks"]
    assert checks and password not in out.stdout + out.stderr
    assert any("[REDACTED:url_password]" in c["message"] for c in checks)


async def test_the_start_banner_never_shows_the_host_password(tmp_path: Path,
                                                              dead_host: str) -> None:
    from sage_tui.ui.widgets.banner import ErrorBanner
    from tests.ui.test_workbench_pilot import _ollama_app

    password = "Hu" + "nter2-" + "x9"
    app = _ollama_app(workspace(tmp_path / "repo"), f"admin:{password}@{dead_host}")
    async with app.run_test(size=SIZE) as pilot:
        banner = app.workbench.query_one(ErrorBanner)
        await until(pilot, lambda: banner.has_class("shown"), "the banner")
        shown = str(banner.render())
    assert "Cannot reach Ollama" in shown and password not in shown
    assert "admin:[REDACTED:url_password]@" in shown


async def test_the_plan_and_tool_checkpoints_show_what_the_log_shows(tmp_path: Path) -> None:
    from sage_tui.ui.screens.modals import ToolAskModal

    rules = scenario()["rules"]
    rules[1] = {"when": {"role": "planner"}, "reply": {"json": {"steps": [f"use key {DO}"]}}}
    app = make_app(workspace(tmp_path / "repo"), {"label": "scripted model", "rules": rules})
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session is not None, "the session")
        await send(pilot, "add the config")
        await until(pilot, lambda: isinstance(app.screen, PlanModal), "the plan")
        plan = " ".join(str(w.render()) for w in app.screen.query("Static"))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ToolAskModal), "the tool ask")
        ask = " ".join(str(w.render()) for w in app.screen.query("Static"))
        await pilot.press("d")
    assert "[REDACTED:digitalocean_token]" in plan and DO not in plan
    assert "echo token=[REDACTED:github_token]" in ask and GH not in ask
