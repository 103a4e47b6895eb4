"""Deterministic workbench apps for pilot and snapshot tests.

The app is built by the same factory as the CLI, on a scripted backend, in a git repo
at a fixed path; the clock, the session id and timings are frozen so screenshots
do not drift.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sage_tui.commands.ui import demo_settings, make_demo_project
from sage_tui.config import load_settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.log import recorder as recorder_module
from sage_tui.factory import build_session
from sage_tui.ui import app as app_module
from sage_tui.ui.app import SageApp
from sage_tui.ui.bridge import UiBridge
from sage_tui.ui.widgets import busy as busy_module
from sage_tui.ui.widgets.prompt import PromptInput

DEMO = Path(app_module.__file__).resolve().parent.parent / "demo" / "scenario.yaml"
VOLATILE = ("latency_ms", "ms")


class FrozenApp(SageApp):
    """SageApp with timings scrubbed from what it shows (they differ run to run)."""

    def on_mount(self) -> None:  # runs besides SageApp.on_mount (Textual calls both)
        self.call_after_refresh(self._no_blink)

    def _no_blink(self) -> None:
        self.workbench.query_one(PromptInput).cursor_blink = False

    async def show_record(self, record: dict[str, Any]) -> None:
        data = {k: (0 if k in VOLATILE else v) for k, v in (record.get("data") or {}).items()}
        await super().show_record({**record, "data": data})


def freeze() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    recorder_module.now_iso = lambda: "2026-11-21T10:00:00.000Z"  # type: ignore[assignment]
    busy_module.clock = lambda: 0.0  # the busy line's elapsed time and spinner frame hold still


def workspace(root: Path) -> Path:
    """A fresh copy of the demo project (a git repo) at `root`, committed at a fixed date."""
    for variable in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        os.environ[variable] = "2026-11-01T10:00:00Z"  # the same commit id every run
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    return make_demo_project(root)


def make_app(root: Path, scenario: Any = None, *, mode: str = "research", intro: str | None =
             "A scripted session for tests.", policy: str = "workspace_write",
             read_timeout: float = 30.0, size_hint: str = "", commit: str = "off",
             session_id: str = "ui-test-session") -> FrozenApp:
    """A workbench on `root` played by `scenario` (default: the demo scenario). The commit
    offer is off unless a test asks for it (`commit="ask"`)."""
    freeze()
    os.environ["SAGE_SESSION_ID"] = session_id
    settings = replace(demo_settings(load_settings()), mode=mode, tool_policy=policy,  # type: ignore[arg-type]
                       commit=commit)
    played = Scenario.load(scenario if scenario is not None else DEMO)
    backend = ScriptedBackend(played, host="scripted")

    def factory(bridge: UiBridge) -> Any:
        return build_session(root, settings=settings, backend_for=lambda host: backend,
                             backend_label=played.label, subscribers=(bridge.sink,), approver=bridge,
                             read_timeout=read_timeout, remember=False)

    app = FrozenApp(factory, intro=intro)
    app.backend = backend  # type: ignore[attr-defined]  # its requests, for the tests
    return app
