"""`sage run TASK`: one turn, headless. The answer streams to stdout; the log has the rest."""

from __future__ import annotations

import asyncio
import gc
import sys
from dataclasses import replace
from pathlib import Path

import click

from sage_tui.commands.output import note, print_json, verbosity
from sage_tui.config import load_settings
from sage_tui.core.agent.orchestrator import TurnResult
from sage_tui.core.errors import UsageError
from sage_tui.core.log.events import EventName
from sage_tui.core.log.recorder import Record
from sage_tui.core.log.redaction import redact
from sage_tui.core.log.safetext import plain, shown
from sage_tui.core.log.streaming import StreamRedactor
from sage_tui.core.log.tracefmt import summary
from sage_tui.factory import BackendFactory, Session, build_session

_SHOWN = {EventName.ROUTE_DECISION, EventName.EXPERT_PACKET, EventName.CONTEXT_CLAMPED,
          EventName.PLAN_CREATED, EventName.TOOL_CALL, EventName.TOOL_ERROR,
          EventName.POLICY_DECISION, EventName.PATCH_PROPOSED, EventName.PATCH_APPLIED,
          EventName.PATCH_FAILED, EventName.TEST_RUN, EventName.ERROR}


# The task and the answer are on the terminal already; the index has its own counter.
_NOT_NARRATED = {EventName.USER_MESSAGE, EventName.ASSISTANT_MESSAGE, EventName.INDEX_PROGRESS}


def _progress(record: Record) -> None:
    """Research and auto modes narrate routing on stderr (the records as logged, redacted);
    the answer owns stdout."""
    if record["event"] in _SHOWN:
        _narrate(record)


def _narrate(record: Record) -> None:
    """One event on stderr; with -v every event is narrated, in every mode."""
    if record["event"] not in _NOT_NARRATED:
        click.echo(click.style(f"· {record['event'].lower()}: {summary(record)}", dim=True),
                   err=True)


def _indexing(record: Record) -> None:
    """The retrieval index's first build can take seconds: one line on stderr that counts up
    (rewritten in place on a terminal; only its last state otherwise)."""
    if record["event"] != EventName.INDEX_PROGRESS:
        return
    data = record.get("data") or {}
    done, total = data.get("done"), data.get("total")
    line = f"· indexing the workspace: {done}/{total} files"
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{line}" + ("\n" if done == total else ""))
        sys.stderr.flush()
    elif done == total:
        click.echo(click.style(line, dim=True), err=True)


def run_task(task: str, *, mode: str | None, workspace: Path | None, as_json: bool,
             backend_for: BackendFactory | None = None, latest: bool = False) -> int:
    """Implement `sage run`; return the exit code."""
    root = (workspace or Path.cwd()).expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"--workspace {root} is not a folder; give an existing folder.")
    if not task.strip():
        raise UsageError("The task is empty; say what you want, e.g. sage run \"what does cli.py do?\"")
    settings = load_settings()
    if latest:  # carry on with this workspace's newest conversation
        from sage_tui.core.log.sessions import latest_session
        from sage_tui.paths import sage_paths

        earlier = latest_session(sage_paths().sessions, root)
        if earlier is None:
            note(f"No earlier session in {root}; starting a new one.")
        settings = replace(settings, session_id=earlier or settings.session_id)
    if mode is not None:
        settings = replace(settings, mode=mode)  # type: ignore[arg-type]
    level = verbosity()  # -q: the answer and errors only; -v: every event, in every mode
    chatty = not as_json and level >= 0 and (settings.mode != "silent" or level > 0)
    from sage_tui.commands.prompts import TerminalApprover

    approver = TerminalApprover()  # asked only in research mode (a continued session's too)
    subscribers = (((_narrate if level > 0 else _progress),) if chatty else ()) + (
        (_indexing,) if not as_json and level >= 0 else ())
    session = build_session(root, settings=settings, backend_for=backend_for,
                            subscribers=subscribers, approver=approver,
                            mode=mode)  # type: ignore[arg-type]
    gc.enable()  # `sage` paused it while starting (cli.py); the session is built
    return asyncio.run(_run(session, task, as_json))


async def _run(session: Session, task: str, as_json: bool) -> int:
    orchestrator = session.orchestrator
    streamed: list[str] = []
    redactor = StreamRedactor()  # stdout shows what the log shows

    def show(text: str) -> None:
        if text and not as_json:
            sys.stdout.write(plain(text))  # the model's text, never its control sequences
            sys.stdout.flush()

    def delta(text: str) -> None:
        streamed.append(text)
        show(redactor.feed(text))

    orchestrator.start()
    status = "error"
    try:
        result = await orchestrator.run_turn(task, on_delta=delta)
        status = {"ok": "ok", "rejected": "cancelled"}.get(result.status, "failed")
    except asyncio.CancelledError:
        result = TurnResult("cancelled")
        status = "cancelled"
    finally:
        show(redactor.finish())
        await orchestrator.finish(status)
        await session.aclose()
        session.close_log()
    if streamed and not as_json and not streamed[-1].endswith("\n"):
        sys.stdout.write("\n")
    if as_json:
        route = result.route
        print_json(
            result.status == "ok", status=result.status, answer=redact(result.answer),
            route=route.route if route else None, source=route.source if route else None,
            experts=list(route.experts) if route else [],
            error=redact(str(result.error)) if result.error else None,
            session_id=session.log.session_id, tokens=session.llm.ledger.totals())
    else:
        said = str(result.error or "")
        if result.answer and not streamed and result.answer not in said:  # a coder's answer
            click.echo(shown(result.answer), err=result.status == "rejected")
        if result.error is not None:
            click.echo(f"Error: {shown(str(result.error))}", err=True)
    return 0 if result.status == "ok" else 1
