"""The Textual commands: `sage` (the workbench), `sage demo`, `sage review`, `sage replay`.

Textual and the UI modules are imported here, only when one of these runs; what the
first screen does not need (the session, the workspace checks of `sage demo`'s scratch
project) is imported where it is used, so it loads after the first frame.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sage_tui.config import Settings, load_settings
from sage_tui.core.errors import UsageError
from sage_tui.paths import sage_paths

if TYPE_CHECKING:
    from sage_tui.core.log.events import Mode
    from sage_tui.factory import Session
    from sage_tui.ui.bridge import UiBridge

DEMO_INTRO = (
    "Welcome to the SAGE demo. This is a scratch copy of a small project ({path}), and the "
    "answers come from the demo model, a scripted scenario: no Ollama needed. Type anything "
    "and press Enter. Watch the routing on the right, approve the plan, then review the "
    "two-hunk patch ({{review.approve}} approve, {{review.reject}} reject, {{review.apply}} "
    "applies) and see the tests run. {{app.help}} shows every key; {{app.mode}} cycles the mode; "
    "{{app.quit}} quits."
)  # {{action.id}} becomes the key in force (the workbench fills it in, remaps included)


def _echo(message: str, err: bool = False) -> None:
    """click's echo, imported only when a line is printed: bare `sage` and `sage demo` start
    without click (launcher.py)."""
    import click

    click.echo(message, err=err)


def _settings() -> Settings:
    """The settings, with `[keys]` ids and the theme checked against the workbench's."""
    from sage_tui.ui.actions import ui_names  # textual: the workbench loads it anyway

    return load_settings(names=ui_names())


def _workspace(path: Path | None) -> Path:
    from sage_tui.core.workspace.state import check_workspace, git_dir

    root = (path or Path.cwd()).expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"--workspace {root} is not a folder; give an existing folder.")
    if git_dir(root) is None:
        raise UsageError(f"{root} is not inside a git repository; cd into one, pass "
                         "--workspace, or try `sage demo`.")
    return check_workspace(root)


def _need_terminal(command: str) -> None:
    """The workbench draws on a terminal and reads keys from it; refuse anything else."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(f"`{command}` opens the workbench and needs a terminal on standard "
                         "input and output; for scripts and pipes use `sage run \"TASK\"`.")


def run_workbench(workspace: Path | None, mode: str | None, *, latest: bool = False,
                  session_id: str | None = None) -> int:
    """`sage` (`--continue`: this workspace's latest session): the workbench, with Ollama.
    `/resume` in the workbench closes this session and opens the chosen one."""
    from sage_tui.ui.app import SageApp

    root = _workspace(workspace)  # the folder first: the more useful sentence
    _need_terminal("sage")
    settings = _settings()
    intro = None
    if latest:
        from sage_tui.core.log.sessions import latest_session

        session_id = latest_session(sage_paths().sessions, root)
        if session_id is None:
            intro = f"There is no earlier session in {root} to continue; this is a new one."
    while True:
        chosen = replace(settings, session_id=session_id) if session_id else settings
        asked = cast("Mode | None", mode)

        def factory(bridge: UiBridge, chosen: Settings = chosen,
                    asked: Mode | None = asked) -> Session:
            from sage_tui.factory import build_session  # after the first frame, as the session

            return build_session(root, settings=chosen, subscribers=(bridge.sink,),
                                 approver=bridge, mode=asked)

        app = SageApp(factory, intro=intro, theme=settings.theme, keys=dict(settings.keys))
        app.run()
        if app.next_session is None:
            return app.return_code or 0
        session_id, mode, intro = app.next_session, None, None  # /resume: the chosen one


def run_resume(ref: str | None, workspace: Path | None, mode: str | None) -> int:
    """`sage resume [ID]`: continue a session; without an id, pick one first."""
    from sage_tui.core.log.sessions import resumable, resumable_session
    from sage_tui.ui.screens.pickers import PickerApp, session_picker

    root = _workspace(workspace)
    if ref is not None:  # the session first: the more useful sentence
        session_id = resumable_session(ref, sage_paths().sessions, root)
        return run_workbench(root, mode, session_id=session_id)
    sessions = resumable(sage_paths().sessions, root)
    if not sessions:
        _echo(f"No earlier session in {root} to continue; `sage` starts one.", err=True)
        return 1
    _need_terminal("sage resume")
    import gc

    gc.enable()  # `sage` paused it for start-up; a person may stay in the picker a long time
    picked = PickerApp(session_picker(sessions)).run()
    if picked is None:
        _echo("Nothing was continued.", err=True)
        return 0
    return run_workbench(root, mode, session_id=picked)


def make_demo_project(target: Path) -> Path:
    """Copy the sample project to `target` and commit it, so diffs and git status make sense."""
    from importlib import resources

    source = resources.files("sage_tui").joinpath("demo/project")
    with resources.as_file(source) as folder:
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    run = {"cwd": target, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
    subprocess.run(["git", "add", "-A"], **run)  # type: ignore[call-overload]
    subprocess.run(["git", "-c", "user.name=SAGE demo", "-c", "user.email=demo@sage.invalid",
                    "commit", "-qm", "textstats: initial version"], **run)  # type: ignore[call-overload]
    return target


def demo_settings(settings: Settings) -> Settings:
    from importlib.util import find_spec  # looking is cheap; importing pytest is not

    if find_spec("pytest") is not None:
        command = f"{sys.executable} -m pytest -q -p no:cacheprovider"
    else:
        command = f"{sys.executable} -m unittest"
    # Every role is played by the one scripted "demo model": say so, rather than show Ollama tags.
    return replace(settings, mode="research", test_command=command, tool_policy="workspace_write",
                   model_profile=None, force_local_model="demo-model")


def build_demo(bridge: object, root: Path, settings: Settings) -> object:
    from importlib import resources

    from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
    from sage_tui.factory import build_session
    from sage_tui.ui.bridge import UiBridge

    assert isinstance(bridge, UiBridge)
    scenario = Scenario.load(Path(str(resources.files("sage_tui").joinpath("demo/scenario.yaml"))))
    backend = ScriptedBackend(scenario, host="demo")
    return build_session(root, settings=settings, backend_for=lambda host: backend,
                         backend_label=scenario.label, subscribers=(bridge.sink,), approver=bridge)


def run_demo(keep: bool) -> int:
    """`sage demo`: the workbench on a scratch project, played by the demo model."""
    _need_terminal("sage demo")
    from sage_tui.ui.app import SageApp

    base = Path(tempfile.mkdtemp(prefix="sage-demo-"))
    root = base / "textstats"
    settings = demo_settings(_settings())

    def factory(bridge: object) -> object:  # runs after the first frame is on screen
        make_demo_project(root)
        return build_demo(bridge, root, settings)

    app = SageApp(factory, intro=DEMO_INTRO.format(path=root),  # type: ignore[arg-type]
                  theme=settings.theme, keys=dict(settings.keys))
    app.run()
    if keep:
        _echo(f"The demo project is kept at {root}.")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def run_review(source: str, workspace: Path | None) -> int:
    """`sage review PATCHFILE`: the diff reviewer on any patch; approved hunks are applied.

    The review is a session of its own (`sage trace` shows it): the patch, its checkpoint,
    each hunk decision and the result, as in the workbench.
    """
    from sage_tui.commands.patching import (
        _print,
        _read_patch,
        _workspace,
        command_session,
        exact_patch,
    )
    from sage_tui.core.log.safetext import plain
    from sage_tui.ui.review_app import ReviewApp

    checked = _workspace(workspace)
    patch = exact_patch(checked, _read_patch(source))
    if not sys.stdout.isatty():
        raise UsageError("`sage review` draws the reviewer and needs a terminal on standard "
                         "output; to apply without reviewing, use `sage apply`.")
    if source == "-" or not sys.stdin.isatty():
        _keys_from_terminal(source)  # the patch came down a pipe; the keys come from the person
    settings = _settings()
    with command_session(checked, "review", settings) as session:
        app = ReviewApp(patch, session.engine, session.log.sink, keys=dict(settings.keys),
                        source=source)
        app.run()
        result = app.result
        session.status = "failed" if result is not None and not result.ok else "ok"
    decision = app.decision
    if result is None:
        why = {"defer": "you left the reviewer", "reject": "you discarded the patch",
               "approve": "no hunk was approved"}.get(decision.decision if decision else "",
                                                      "you quit before applying")
        _echo(f"Nothing was applied: {why}.")
        return 0
    _print(result)
    if result.ok:
        applied = [h for h in result.hunks if h.status == "applied"]
        _echo(f"Applied {len(applied)} hunk(s) to {plain(', '.join(result.files))}.")
        return 0
    _echo(f"Error: nothing was changed: {plain(result.reason)}", err=True)
    return 1


def _keys_from_terminal(source: str) -> None:
    """Make the controlling terminal standard input again (as `fzf` and `less` do), so the
    reviewer reads keys from the person, not from the pipe that carried the patch."""
    import os

    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        if source == "-":
            raise UsageError("The patch came on standard input and there is no terminal to "
                             "read keys from; save it to a file and run `sage review FILE` in a "
                             "terminal, or `sage apply` it.") from None
        raise UsageError("There is no terminal to read keys from; run `sage review` in a "
                         "terminal, or `sage apply` the patch.") from None
    os.dup2(tty, 0)
    os.close(tty)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115


def run_replay(ref: str, speed: float) -> int:
    """`sage replay SESSION`: a recorded session played back in the workbench, read-only."""
    import warnings

    from sage_tui.core.log.sessionlog import TornTailWarning
    from sage_tui.core.log.sessions import resolve
    from sage_tui.ui.app import SageApp

    target = resolve(ref, sage_paths().sessions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)
        records = list(target.reader())
    settings = _settings()
    app = SageApp(None, intro=f"Replaying {target.kind} {target.name}: {len(records)} events at "
                  f"{speed:g}x. Read-only; {{app.quit}} leaves.", replay=records, replay_speed=speed,
                  theme=settings.theme, keys=dict(settings.keys))
    app.run()
    return 0
