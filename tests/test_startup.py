"""Nothing but the first screen before the workbench's first frame (issue 14).

What the first screen does not need (the session, the redactor's rules, slash commands,
replay, the hidden filter box) loads after the first frame, and garbage collection is
paused only while the workbench starts. Speed itself is measured in bench/ui.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.ui.app import SageApp

ROOT = Path(__file__).resolve().parent.parent

# Modules the first frame must not wait for: the session's composition root and engine,
# the redactor's rules, the model clients, YAML, the patch parser, slash commands, replay.
NOT_BEFORE_THE_FIRST_FRAME = (
    "sage_tui.factory", "sage_tui.core.agent.orchestrator", "sage_tui.core.agent.approval",
    "sage_tui.core.log.redaction", "sage_tui.core.log.secretrules", "sage_tui.core.log.recorder",
    "sage_tui.core.workspace.state", "sage_tui.core.workspace.retrieval", "sage_tui.ui.slash",
    "sage_tui.ui.slash_actions", "sage_tui.ui.replay", "ollama", "httpx", "ruamel.yaml", "unidiff",
    "tomllib",
)


def _loaded_by(code: str, tmp_path: Path) -> set[str]:
    probe = (
        "import json, sys\n" + code +
        "\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    env = {"SAGE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env, cwd=tmp_path)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_workbench_is_built_without_the_session_machinery(tmp_path: Path) -> None:
    # What `sage demo` does before `App.run`: the command module, the settings, the app.
    loaded = _loaded_by(
        "from sage_tui.commands.ui import demo_settings\n"
        "from sage_tui.config import load_settings\n"
        "from sage_tui.ui.app import SageApp\n"
        "settings = demo_settings(load_settings())\n"
        "SageApp(lambda bridge: None, intro='hi', theme=settings.theme, keys=dict(settings.keys))\n",
        tmp_path)
    assert "textual.app" in loaded and "sage_tui.ui.screens.workbench" in loaded
    assert sorted(set(NOT_BEFORE_THE_FIRST_FRAME) & loaded) == []


def test_the_probe_would_notice_the_session_machinery(tmp_path: Path) -> None:
    loaded = _loaded_by("import sage_tui.factory\n", tmp_path)
    assert {"sage_tui.factory", "sage_tui.core.log.redaction"} <= loaded


def _before_the_app_runs(argv: list[str], tmp_path: Path) -> dict[str, bool]:
    """What `sage ARGV` had loaded, and whether collection was on, when its workbench app
    was about to run (in a git repository, as if on a terminal)."""
    watched = ["click", "sage_tui.cli", "sage_tui.factory", "sage_tui.core.agent.orchestrator"]
    code = (
        "import gc, json, sys\n"
        "from sage_tui.commands import ui\n"
        "from sage_tui.ui.app import SageApp\n"
        "ui._need_terminal = lambda command: None\n"
        "def run(self):\n"
        f"    seen = {{name: name in sys.modules for name in {watched!r}}}\n"
        "    print(json.dumps(seen | {'gc': gc.isenabled()}))\n"
        "SageApp.run = run\n"
        "from sage_tui import launcher\n"
        "try:\n"
        f"    launcher.main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {"SAGE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=repo, stdin=subprocess.DEVNULL, check=True)
    return dict(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [[], ["demo"]])
def test_bare_sage_and_sage_demo_open_without_click_or_the_session(
        tmp_path: Path, argv: list[str]) -> None:
    # The two commands people type most reach their first frame without importing click,
    # the command tree or the session's machinery (that is built after the first frame).
    assert _before_the_app_runs(argv, tmp_path) == {
        "click": False, "sage_tui.cli": False, "sage_tui.factory": False,
        "sage_tui.core.agent.orchestrator": False, "gc": False}


@pytest.mark.parametrize("argv", [["--no-color", "demo"], ["--mode", "auto"], ["-q"]])
def test_with_anything_more_they_go_through_click(tmp_path: Path, argv: list[str]) -> None:
    seen = _before_the_app_runs(argv, tmp_path)
    assert seen["click"] and seen["sage_tui.cli"] and not seen["sage_tui.factory"]
    assert not seen["gc"]  # still a starting command: paused until the first frame


def _gc_after(argv: list[str], tmp_path: Path) -> list[str]:
    """Whether collection was on inside a `probe` command and after `main` returned."""
    code = (
        "import gc, sys\n"
        "from sage_tui import cli, launcher\n"
        "@cli.cli.command()\n"
        "def probe():\n"
        "    print('inside', gc.isenabled())\n"
        "try:\n"
        f"    launcher.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('after', gc.isenabled())\n"
    )
    env = {"SAGE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return out.stdout.split()


def test_other_commands_run_with_garbage_collection_on(tmp_path: Path) -> None:
    assert _gc_after(["probe"], tmp_path) == ["inside", "True", "after", "True"]


@pytest.mark.parametrize("argv", [["demo"], ["run", " "], ["--version"], ["no-such-command"]])
def test_collection_is_back_on_however_a_command_ends(tmp_path: Path, argv: list[str]) -> None:
    # `sage demo` without a terminal and `sage run` with an empty task stop with one
    # sentence before their app or session starts.
    assert _gc_after(argv, tmp_path)[-2:] == ["after", "True"]


@pytest.mark.anyio
async def test_the_workbench_resumes_collection_after_its_first_frame() -> None:
    import gc

    gc.disable()  # as `sage` leaves it for the workbench's start
    try:
        app = SageApp(None, intro="hello")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.anyio
async def test_the_filter_box_is_built_when_first_asked_for_and_then_reused() -> None:
    app = SageApp(None, intro="hello")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.workbench
        assert not screen.query("#event-filter")
        for _ in range(2):
            await screen.action_filter()
            await pilot.pause()
            assert len(screen.query("#event-filter")) == 1
            box = screen.query_one("#event-filter")
            assert box.display and box.has_focus
            await pilot.press("enter")
            assert not box.display
        side = [child.id for child in screen.query_one("#side").children]
        assert side[:3] == ["events-title", "event-filter", "events"]


def test_the_resume_picker_runs_with_collection_on(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # `sage resume` is a starting command (cli.py pauses collection until the workbench's
    # first frame), but a person may sit in its session picker for as long as they like.
    import gc

    from sage_tui.commands import ui
    from sage_tui.core.log import sessions
    from sage_tui.ui.screens import pickers

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    seen: list[bool] = []
    monkeypatch.setattr(sessions, "resumable", lambda directory, root: ["s-1"])
    monkeypatch.setattr(pickers, "session_picker", lambda found: None)
    monkeypatch.setattr(pickers.PickerApp, "__init__", lambda self, screen: None)
    monkeypatch.setattr(pickers.PickerApp, "run", lambda self: seen.append(gc.isenabled()))
    monkeypatch.setattr(ui, "_need_terminal", lambda command: None)
    monkeypatch.setenv("SAGE_HOME", str(tmp_path / "home"))
    gc.disable()  # as `sage resume` starts
    try:
        assert ui.run_resume(None, tmp_path, None) == 0  # nothing picked
    finally:
        gc.enable()
    assert seen == [True]
