"""`sage apply PATCHFILE`, `sage undo` and `sage redo`: the patch engine without a model.

With `--check` they only read: no session log, no recovery (one sentence says when an
interrupted change awaits it), and only the patch engine is imported, so they start fast.
A command that changes files records a session, closed with its status however it ends.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage_tui.commands.output import echo, note, print_json, style
from sage_tui.core.errors import UsageError
from sage_tui.core.log.safetext import one_line, plain

if TYPE_CHECKING:
    from sage_tui.config import Settings
    from sage_tui.core.agent.patchgate import PatchGate
    from sage_tui.core.log.sessionlog import SessionLog
    from sage_tui.core.patch.engine import PatchEngine
    from sage_tui.core.patch.model import Patch
    from sage_tui.core.patch.result import ApplyResult

STATUS_COLOUR = {"applied": "green", "ok": "green", "skipped": "yellow", "failed": "red"}


def _root(path: Path | None) -> Path:
    root = (path or Path.cwd()).expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"--workspace {root} is not a folder; give an existing folder.")
    return root


def _workspace(path: Path | None) -> Path:
    from sage_tui.core.workspace.state import SageFolder, check_workspace

    root = _root(path)
    check_workspace(root)
    SageFolder(root).check()  # a planted .sage is refused before anything else is read
    return root


def _read_patch(source: str) -> str:
    # Bytes in: carriage returns and non-UTF-8 bytes reach the engine as they are.
    if source == "-":
        if sys.stdin is None:
            raise UsageError("standard input is closed; give a patch file, or pipe one in.")
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    path = Path(source).expanduser()
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        raise UsageError(f"{source} does not exist; give a patch file, or - for standard input.") \
            from None
    except OSError as exc:
        raise UsageError(f"{source} cannot be read ({exc.strerror}).") from None


def exact_patch(ws: Path, text: str) -> Patch:
    """What a person pasted (a diff from a chat window, fenced, with prose around it, counts off;
    or search/replace blocks), as the exact patch SAGE shows and applies."""
    from sage_tui.core.patch.edits import from_text
    from sage_tui.core.patch.model import PatchError, parse_patch
    from sage_tui.core.workspace.workspace import PathDenied, Workspace

    files = Workspace([ws])

    def read(path: str) -> str | None:
        try:
            return files.read_bytes(path, honour_hidden=False).decode("utf-8", "surrogateescape")
        except (FileNotFoundError, IsADirectoryError):
            return None
        except PathDenied as exc:  # a link, a special file: one sentence, as the engine says it
            raise PatchError(str(exc)) from None

    return parse_patch(from_text(text, read))


def _select(patch: Patch, hunks: str | None) -> list[str]:
    if hunks is None:
        return [h.hunk_id for h in patch.hunks]
    chosen = []
    total = len(patch.hunks)
    for part in hunks.split(","):
        part = part.strip()
        if (not (part.isascii() and part.isdigit()) or len(part) > len(str(total))
                or not 1 <= int(part) <= total):  # the length first: int() of 5,000 digits fails
            raise UsageError(f"--hunks takes positions from 1 to {total}, separated by commas "
                             f"(got {one_line(part[:20])!r}).")
        hunk_id = patch.hunks[int(part) - 1].hunk_id
        if hunk_id not in chosen:  # `--hunks 2,1,2` chooses two hunks
            chosen.append(hunk_id)
    return chosen


def _print(result: ApplyResult) -> None:
    for hunk in result.hunks:
        status = style(f"{hunk.status:<8}", fg=STATUS_COLOUR.get(hunk.status))
        reason = f"  {hunk.reason}" if hunk.reason and hunk.status == "failed" else ""
        echo(f"{hunk.index:>3} {status} {plain(hunk.path)}{plain(reason)}")


@dataclass
class CommandSession:
    """A patch command's session: its log, the engine, and the status it ends with."""

    log: SessionLog
    engine: PatchEngine
    status: str = "ok"


@contextlib.contextmanager
def command_session(ws: Path, command: str, settings: Settings) -> Iterator[CommandSession]:
    """Open the session log for `sage <command>`, build the engine (recovery first, said in
    one sentence), and bracket the session with SESSION_STARTED and SESSION_ENDED."""
    from sage_tui.core.log.emitting import emitter
    from sage_tui.core.log.events import EventName
    from sage_tui.core.log.sessionlog import SessionLog
    from sage_tui.factory import patch_engine
    from sage_tui.paths import sage_paths

    with SessionLog.open(sage_paths().sessions, session_id=settings.session_id,
                         trace_id=settings.trace_id, max_mb=settings.session_log_max_mb) as log:
        engine = patch_engine(ws, {"session_id": log.session_id, "trace_id": log.trace_id,
                                   "who": f"sage {command}"})
        _say_recovered(engine.recovery_note())
        emit = emitter(log.sink)
        emit(EventName.SESSION_STARTED, {"workspace": str(ws), "mode": "research",
                                         "profile": None, "version": _version(),
                                         "command": command}, turn=0)
        session = CommandSession(log, engine)
        try:
            yield session
        except BaseException:
            session.status = "error"
            raise
        finally:
            emit(EventName.SESSION_ENDED, {"status": session.status, "turns": 0, "tokens": {
                "prompt_tokens": 0, "completion_tokens": 0}})


def read_only_engine(root: Path) -> PatchEngine:
    """The engine of `--check`: it checks the workspace and its `.sage` as any engine does,
    but recovers nothing; when an interrupted change awaits recovery it says so."""
    from sage_tui.core.patch.engine import PatchEngine
    from sage_tui.core.workspace.state import workspace_state
    from sage_tui.core.workspace.workspace import Workspace
    from sage_tui.paths import sage_paths

    files = Workspace([root])
    engine = PatchEngine(files, workspace_state(sage_paths().state, files.root), read_only=True)
    if engine.awaits_recovery:
        note("Note: an interrupted patch operation awaits recovery, so the files may be half "
             "changed; `sage apply` or `sage undo` without --check finishes it first.",
             fg="yellow")
    return engine


def run_apply(source: str, *, workspace: Path | None, hunks: str | None, check: bool,
              as_json: bool) -> int:
    """Implement `sage apply`; return the exit code."""
    if check:  # read-only: no session, no recovery
        engine = read_only_engine(_root(workspace))
        patch = exact_patch(engine.workspace.root, _read_patch(source))
        chosen = _select(patch, hunks)
        result = engine.check(patch, chosen)
    else:
        result, chosen = _apply(source, _workspace(workspace), hunks)
    if as_json:
        fields = result.to_json()
        del fields["ok"]
        if not result.ok:
            fields["error"] = f"Nothing was changed: {result.reason}."
        print_json(result.ok, **fields)
    else:
        _print(result)
        if result.ok:
            verb = "would apply" if check else "applied"
            echo(f"{len(chosen)} hunk(s) {verb} to {plain(', '.join(result.files))}.")
    if not result.ok:  # the sentence on stderr, --json or not
        echo(f"Error: nothing was changed: {plain(result.reason)}", err=True)
    return 0 if result.ok else 1


def _apply(source: str, ws: Path, hunks: str | None) -> tuple[ApplyResult, list[str]]:
    import asyncio

    from sage_tui.config import load_settings
    from sage_tui.core.agent.approval import ChosenHunks
    from sage_tui.core.agent.checkpoints import Checkpoints
    from sage_tui.core.agent.patchgate import PatchGate

    patch = exact_patch(ws, _read_patch(source))
    chosen = _select(patch, hunks)
    with command_session(ws, "apply", load_settings()) as session:
        # The command line is the person's decision, recorded as any checkpoint's is.
        approver = ChosenHunks(chosen, "chosen with --hunks" if hunks else None)
        log = session.log
        gate = PatchGate(Checkpoints(log.sink, approver), session.engine, log.sink)
        result = asyncio.run(_decide_and_apply(gate, patch, source))
        session.status = "ok" if result.ok else "failed"
    return result, chosen


async def _decide_and_apply(gate: PatchGate, patch: Patch, source: str) -> ApplyResult:
    gate.propose(patch, source=source)
    decision = await gate.decide(patch)
    assert decision.review is not None
    return await gate.apply(decision.review)


def run_undo(*, workspace: Path | None, check: bool, as_json: bool, redo: bool = False) -> int:
    """Implement `sage undo` (and `sage redo`); return the exit code."""
    if check:  # read-only: no session, no recovery
        engine = read_only_engine(_root(workspace))
        step = engine.redo if redo else engine.undo
        undo_id, manifest = step(True)
    else:
        undo_id, manifest = _undo(_workspace(workspace), redo)
    files = [f["path"] for f in manifest["files"]]
    shown = manifest["diff"] if redo else manifest["reverse"]
    if as_json:
        print_json(True, **{"redone" if redo else "undone": not check,
                            "patch_id": manifest["patch_id"], "undo_id": undo_id,
                            "files": files, "diff" if redo else "reverse": shown})
        return 0
    for line in shown.split("\n"):
        colour = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        echo(style(plain(line), fg=colour))
    verb = {(False, True): "would restore", (False, False): "restored",
            (True, True): "would change", (True, False): "applied again to"}[(redo, check)]
    echo(f"Patch {manifest['patch_id']}: {verb} {plain(', '.join(files))}.")
    return 0


def _undo(ws: Path, redo: bool) -> tuple[str, dict[str, Any]]:
    import asyncio

    from sage_tui.config import load_settings
    from sage_tui.core.agent.approval import ChosenHunks
    from sage_tui.core.agent.checkpoints import Checkpoints
    from sage_tui.core.agent.patchgate import PatchGate

    with command_session(ws, "redo" if redo else "undo", load_settings()) as session:
        log = session.log
        gate = PatchGate(Checkpoints(log.sink, ChosenHunks([])), session.engine, log.sink)
        manifest = asyncio.run(gate.undo(redo=redo))
    return str(manifest["undo_id"]), manifest


def _say_recovered(note: str) -> None:
    """Recovery changed files before this command: say so, never silently."""
    if note:
        echo(f"Note: {note}", err=True)


def _version() -> str:
    from sage_tui import __version__

    return __version__
