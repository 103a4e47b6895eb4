"""The command line in the prompt: `/help`, `/mode`, `/tokens`, `/models`, `/drop`.

A message that starts with `/` is a command for SAGE, never a question for the model: an
unknown one says so. Tab completes a command's name. The registry here feeds the help
screen and the table in `docs/workbench.md` (a test keeps them in step).
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
    Command("tokens", "/tokens", "Tokens used this session, by role and model"),
    Command("models", "/models", "The model each role uses, and why"),
    Command("context", "/context", "The files pinned with @path and the project's instruction "
            "files"),
    Command("drop", "/drop PATH|all", "Unpin a file pinned with @path"),
    Command("undo", "/undo", "Undo the newest patch SAGE applied in this workspace, after showing "
            "the reverse diff (again for the one before; refused when a file changed since)"),
    Command("redo", "/redo", "Apply the newest undone patch again, after showing it"),
    Command("diff", "/diff", "What SAGE applied in this session: each applied patch's diff"),
)
BY_NAME = {command.name: command for command in COMMANDS}


def is_command(text: str) -> bool:
    """A message for SAGE itself: `/name ...` (`//...` sends a literal slash to the model)."""
    return text.startswith("/") and not text.startswith("//") and len(text) > 1


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
    rows += ["| `" + c.usage.replace("|", "\\|") + f"` | {c.description} |" for c in COMMANDS]
    return "\n".join(rows)


async def run(app: Any, text: str) -> None:
    """Carry out `text` in the workbench `app`; every outcome is one line in the conversation."""
    from sage_tui.ui.widgets.conversation import Conversation

    conversation = app.workbench.query_one(Conversation)
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
    elif command.name in ("undo", "redo"):
        await _undo(app, conversation, redo=command.name == "redo")
    elif command.name == "drop":
        dropped = session.orchestrator.experts.unpin(args or "all")
        conversation.add_note(f"Unpinned {', '.join(dropped)}." if dropped
                              else f"{args or 'Nothing'} was not pinned; /context lists pins.")


async def _undo(app: Any, conversation: Any, redo: bool = False) -> None:
    """Show what undoing (or redoing) the newest patch does, ask, then do it."""
    from sage_tui.core.errors import SageError
    from sage_tui.core.log.safetext import plain
    from sage_tui.ui.screens.modals import ConfirmModal

    gate = app.session.orchestrator.code.gate
    word = "redo" if redo else "undo"
    if app._turn_running:
        conversation.add_note(f"A turn is running; /{word} when it has ended.")
        return
    try:
        manifest = await gate.undo(check_only=True, redo=redo)
    except SageError as exc:
        conversation.add_note(str(exc))
        return
    files = ", ".join(str(f["path"]) for f in manifest["files"])
    diff = manifest["diff"] if redo else manifest["reverse"]
    conversation.add_note(f"{word.capitalize()}ing patch {manifest['patch_id']} would apply "
                          f"this {'' if redo else 'reverse '}diff:\n{plain(str(diff))}")

    async def answered(yes: bool | None) -> None:
        if not yes:
            conversation.add_note(f"Nothing was {word}ne.")
            return
        try:
            await gate.undo(redo=redo, expect=manifest["undo_id"])  # the one shown, or none
        except SageError as exc:
            conversation.add_note(str(exc))
            return
        done = "applied again" if redo else "undone"
        conversation.add_note(f"Patch {manifest['patch_id']} {done}: {files} "
                              f"{'changed' if redo else 'restored'}. /{word} again for the next.")

    app.push_screen(ConfirmModal(f"{word.capitalize()} patch {manifest['patch_id']}? It "
                                 f"{'changes' if redo else 'restores'} {files}.",
                                 f"{word.capitalize()} it", "Leave it"), answered)


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
