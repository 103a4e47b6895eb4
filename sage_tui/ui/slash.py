"""The command line in the prompt: `/help`, `/undo`, `/commit`, `/model`, `!cmd`...

A message that starts with `/` is a command for SAGE, never a question for the model: an
unknown one says so. `!cmd` runs a command line under the tool policy (the person typed
it). Tab completes a command's name. The registry here feeds the help screen and the
table in `docs/workbench.md` (a test keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sage_tui.core.log.events import MODES


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    description: str


COMMANDS: tuple[Command, ...] = (
    Command("help", "/help", "Show every key and command"),
    Command("mode", "/mode [research|auto|silent]", "Show the mode, or switch to another one "
            "(a MODE_CHANGED event; auto with a patch waiting asks first)"),
    Command("model", "/model [ROLE] [TAG]", "Pick the model a role uses for this session from "
            "the models the server has (no ROLE: the coder; a MODEL_ROUTING_DECISION, reason "
            "user)"),
    Command("models", "/models", "The model each role uses, and why"),
    Command("tokens", "/tokens", "Tokens used this session, by role and model"),
    Command("context", "/context", "The files pinned with @path and the project's instruction "
            "files"),
    Command("add", "/add PATH [PATH...]", "Pin files into every prompt, as @PATH does"),
    Command("drop", "/drop PATH|all", "Unpin a file pinned with @path or /add"),
    Command("clear", "/clear", "Start a new conversation in the same session log (the model no "
            "longer sees the earlier messages; pins stay)"),
    Command("undo", "/undo", "Undo the newest patch SAGE applied in this workspace, after showing "
            "the reverse diff (again for the one before; refused when a file changed since; a "
            "committed patch is reverted with a commit, as git revert does)"),
    Command("redo", "/redo", "Apply the newest undone patch again, after showing it"),
    Command("diff", "/diff", "What SAGE applied in this session: each applied patch's diff"),
    Command("commit", "/commit [MESSAGE]", "Commit the files SAGE changed and has not committed "
            "(only those; the message is editable, with a trailer naming the model and session)"),
    Command("resume", "/resume [ID]", "Leave this session and continue another of this "
            "workspace's sessions (a picker without ID)"),
)
SHELL = Command("!", "!COMMAND", "Run a command line in the workspace under the tool policy "
                "(you typed it, so `ask` runs; `deny` still denies) and show its output; the model "
                "does not see it")
BY_NAME = {command.name: command for command in COMMANDS}


def is_command(text: str) -> bool:
    """A message for SAGE itself: `/name ...` or `!command` (`//...` sends a literal slash to
    the model)."""
    return (text.startswith("/") and not text.startswith("//") and len(text) > 1) or \
        (text.startswith("!") and len(text.strip()) > 1)


def complete(text: str) -> str | None:
    """`text` with the command's name completed, when exactly one command starts so."""
    if not text.startswith("/") or " " in text:
        return None
    matches = [c.name for c in COMMANDS if c.name.startswith(text[1:])]
    return f"/{matches[0]} " if len(matches) == 1 else None


def candidates(text: str) -> list[str]:
    """Every command whose name starts with what follows the slash."""
    return [c.usage for c in COMMANDS if c.name.startswith(text[1:].split(" ")[0])]


def commands_markdown() -> str:
    rows = ["| command | does |", "|---|---|"]
    rows += ["| `" + c.usage.replace("|", "\\|") + f"` | {c.description} |"
             for c in (*COMMANDS, SHELL)]
    return "\n".join(rows)


async def run(app: Any, text: str) -> None:
    """Carry out `text` in the workbench `app`; every outcome is one line in the conversation."""
    from sage_tui.ui.widgets.conversation import Conversation

    conversation = app.workbench.query_one(Conversation)
    if text.startswith("!"):
        await _shell(app, conversation, text[1:].strip())
        return
    name, _, args = text[1:].strip().partition(" ")
    args = args.strip()
    command = BY_NAME.get(name.lower())
    session = app.session
    if command is None:
        near = ", ".join(f"/{c.name}" for c in COMMANDS if c.name.startswith(name[:1].lower()))
        conversation.add_note(f"/{name} is not a command{f' (did you mean {near}?)' if near else ''}"
                              "; /help lists them. Nothing was sent to the model.")
        return
    if command.name == "help":
        app.action_help()
    elif session is None:
        conversation.add_note("No session is running here (a replay is read-only).")
    elif command.name == "mode":
        _mode(app, conversation, args)
    elif command.name in ("tokens", "models"):
        conversation.add_note(session.orchestrator.fast_answer(command.name))
    elif command.name == "context":
        conversation.add_note(_context(session))
    elif command.name == "diff":
        conversation.add_note(_applied(app))
    elif command.name == "drop":
        dropped = session.orchestrator.experts.unpin(args or "all")
        conversation.add_note(f"Unpinned {', '.join(dropped)}." if dropped
                              else f"{args or 'Nothing'} was not pinned; /context lists pins.")
        app.workbench.show_context()
    elif command.name == "add":
        _add(app, conversation, args)
    else:
        from sage_tui.ui import slash_actions

        await getattr(slash_actions, command.name)(app, conversation, args)


def _add(app: Any, conversation: Any, args: str) -> None:
    experts = app.session.orchestrator.experts
    if not args:
        conversation.add_note("/add needs a file: /add src/app.py (or a range, app.py:10-40).")
        return
    added, missed = [], []
    for arg in args.split():
        pinned = experts.pin(f"@{arg.lstrip('@')}")
        added += pinned
        if not pinned:
            missed.append(arg)
    if added:
        conversation.add_note(f"Pinned {', '.join('@' + p for p in added)} into every prompt "
                              "until /drop.")
    if missed:
        conversation.add_note(f"Not pinned: {', '.join(missed)}: not a readable file in this "
                              "workspace (or the tool policy hides it).")
    app.workbench.show_context()


async def _shell(app: Any, conversation: Any, command: str) -> None:
    from sage_tui.core.agent.shell import run_typed
    from sage_tui.core.log.safetext import shown

    code = app.session.orchestrator.code if app.session is not None else None
    if code is None:
        conversation.add_note("No session is running here (a replay is read-only).")
        return
    orchestrator = app.session.orchestrator
    orchestrator.shell_calls += 1
    conversation.add_note(f"$ {shown(command)}")
    outcome = await run_typed(code, command, orchestrator.shell_calls)
    conversation.add_note(shown(outcome.text) if outcome.text.strip() else "(no output)")


def _applied(app: Any) -> str:
    """Every patch that landed in this session (undone ones say so): its approved hunks, as
    the log would show them (redacted)."""
    from sage_tui.core.log.safetext import shown
    from sage_tui.core.patch.review import recorded_review
    from sage_tui.ui.widgets.patch_queue import PatchQueue

    queue = app.workbench.query_one(PatchQueue)
    landed = [p for p in queue.patches.values() if p.state in ("applied", "reverted") and p.diff]
    if not landed:
        return "Nothing was applied in this session yet."
    parts = []
    for queued in landed:
        review = recorded_review(queued.diff, queued.patch_id, queued.decided)
        text = review.patch.text(review.approved) if review.approved else queued.diff
        parts.append(f"Patch {queued.patch_id} ({queued.state}, {len(review.approved)} hunk(s) "
                     f"approved):\n{shown(text)}")
    return "\n\n".join(parts)


def _mode(app: Any, conversation: Any, wanted: str) -> None:
    orchestrator = app.session.orchestrator
    if not wanted:
        conversation.add_note(orchestrator.fast_answer("mode"))
        return
    if wanted not in MODES:
        conversation.add_note(f"{wanted!r} is not a mode; use one of {', '.join(MODES)}.")
        return
    app.switch_mode_to(wanted)


def _context(session: Any) -> str:
    experts = session.orchestrator.experts
    pinned = [f"@{p}" for p in experts.pinned] or ["none (mention a file as @path to pin it)"]
    found = [name for name in experts.instruction_files if experts.readable(name)]
    return ("Pinned into every prompt: " + ", ".join(pinned) + ".\nProject instructions: "
            + (", ".join(found) if found else "none (AGENTS.md, CONVENTIONS.md)") + ".")
