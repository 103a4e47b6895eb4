"""The slash commands that change something: `/undo`, `/redo`, `/commit`, `/model`, `/clear`,
`/resume`; and the commit SAGE offers after a change that landed with green tests.

Each is `async (app, conversation, args)`; every outcome is a line in the conversation,
and every change is an event in the log (through the core, never from here).
"""

from __future__ import annotations

from typing import Any

from sage_tui.core.errors import SageError
from sage_tui.core.log.events import ROLES
from sage_tui.core.log.safetext import plain


def _busy(app: Any, conversation: Any, word: str) -> bool:
    if app._turn_running:
        conversation.add_note(f"A turn is running; /{word} when it has ended.")
    return bool(app._turn_running)


async def undo(app: Any, conversation: Any, args: str = "", redo: bool = False) -> None:
    """Show what undoing (or redoing) the newest patch does, ask, then do it. A patch that
    is in a commit SAGE made is undone with a revert commit (what `git revert` makes)."""
    from sage_tui.ui.screens.modals import ConfirmModal

    orchestrator = app.session.orchestrator
    gate = orchestrator.code.gate
    word = "redo" if redo else "undo"
    if _busy(app, conversation, word):
        return
    try:
        manifest = await gate.undo(check_only=True, redo=redo)
    except SageError as exc:
        conversation.add_note(str(exc))
        return
    patch_id = str(manifest["patch_id"])
    files = [str(f["path"]) for f in manifest["files"]]
    commit = None if redo else gate.committed.get(patch_id)
    diff = manifest["diff"] if redo else manifest["reverse"]
    conversation.add_note(f"{word.capitalize()}ing patch {patch_id} would apply this "
                          f"{'' if redo else 'reverse '}diff:\n{plain(str(diff))}")

    async def answered(yes: bool | None) -> None:
        if not yes:
            conversation.add_note(f"Nothing was {word}ne.")
            return
        try:
            await gate.undo(redo=redo, expect=manifest["undo_id"])  # the one shown, or none
        except SageError as exc:
            conversation.add_note(str(exc))
            return
        if commit is not None:
            try:
                await orchestrator.commit(f"Revert patch {patch_id}\n\nThis reverts commit "
                                          f"{commit}.", files=files, reverts=commit)
            except SageError as exc:
                conversation.add_note(f"Patch {patch_id} undone: {', '.join(files)} restored; "
                                      f"the revert could not be committed: {exc}")
                return
        done = "applied again" if redo else "undone"
        conversation.add_note(f"Patch {patch_id} {done}: {', '.join(files)} "
                              f"{'changed' if redo else 'restored'}"
                              + (f", and the revert of commit {commit[:10]} committed"
                                 if commit else "") + f". /{word} again for the next.")

    question = (f"Patch {patch_id} is in commit {commit[:10]}. Revert it? This restores "
                f"{', '.join(files)} and commits the revert." if commit else
                f"{word.capitalize()} patch {patch_id}? It "
                f"{'changes' if redo else 'restores'} {', '.join(files)}.")
    app.push_screen(ConfirmModal(question, "Revert it" if commit else f"{word.capitalize()} it",
                                 "Leave it"), answered)


async def redo(app: Any, conversation: Any, args: str = "") -> None:
    await undo(app, conversation, args, redo=True)


async def commit(app: Any, conversation: Any, args: str = "") -> None:
    """`/commit [message]`: commit at once with a message, else offer the suggested one."""
    orchestrator = app.session.orchestrator
    if _busy(app, conversation, "commit"):
        return
    if not orchestrator.uncommitted:
        conversation.add_note("SAGE has applied nothing since its last commit; there is "
                              "nothing to commit.")
        return
    if args:
        await _commit(orchestrator, conversation, args)
    else:
        offer_commit(app, asked=True)


async def _commit(orchestrator: Any, conversation: Any, message: str) -> None:
    try:
        made = await orchestrator.commit(message)
    except SageError as exc:
        conversation.add_note(str(exc))
        return
    conversation.add_note(f"Committed {', '.join(made.files)} as {made.sha[:10]} (trailer: "
                          f"Sage-Session: {orchestrator.session_id}).")


def offer_commit(app: Any, asked: bool = False) -> None:
    """After a turn that landed changes with green tests (the `commit` setting `ask`), or on
    `/commit`: the suggested message, editable; Ctrl+S commits."""
    from sage_tui.ui.screens.modals import CommitModal
    from sage_tui.ui.widgets.conversation import Conversation

    session = app.session
    if session is None or not session.orchestrator.uncommitted:
        return
    landed = frozenset(session.orchestrator.code.gate.landed)
    if not asked and (session.orchestrator.commit_setting != "ask"
                      or landed <= getattr(app, "offered_commit", frozenset())):
        return  # asked about these already: /commit when you want them
    app.offered_commit = landed
    orchestrator = session.orchestrator
    conversation = app.workbench.query_one(Conversation)

    async def chosen(message: str | None) -> None:
        if message is None:
            conversation.add_note("Not committed; /commit commits SAGE's changes later.")
        else:
            await _commit(orchestrator, conversation, message)

    app.push_screen(CommitModal(orchestrator.uncommitted, orchestrator.suggested_commit()),
                    chosen)


async def model(app: Any, conversation: Any, args: str) -> None:
    """`/model [role] [tag]`: pick from the server's models; no role means the coder."""
    from sage_tui.ui.screens.pickers import Picker

    llm = app.session.orchestrator.llm
    words = args.split()
    role = words.pop(0) if words and words[0] in ROLES else None
    if len(words) > 1:
        conversation.add_note("Usage: /model [ROLE] [TAG], e.g. /model coder qwen2.5-coder:7b; "
                              f"roles: {', '.join(ROLES)}.")
        return
    tag = words[0] if words else None
    role = role or "coder"
    try:
        pulled = await llm.pulled(role)
    except SageError as exc:
        conversation.add_note(f"The models cannot be listed, so nothing changed: {exc}")
        return
    if tag is not None:
        _switch(llm, conversation, role, tag, pulled)
        return
    if not pulled:
        conversation.add_note("The server has no models yet; `sage prep` pulls the "
                              "recommended ones.")
        return
    current = llm.router.primary(role).model
    options = [(name, f"{name}{'  (now)' if name == current else ''}") for name in pulled]

    def picked(name: str | None) -> None:
        if name is not None:
            _switch(llm, conversation, role, name, pulled)

    app.push_screen(Picker(f"Model for the {role} role (this session)", options), picked)


def _switch(llm: Any, conversation: Any, role: str, tag: str, pulled: list[str]) -> None:
    if tag not in pulled:
        near = ", ".join(pulled[:8]) or "none"
        conversation.add_note(f"{tag} is not on the {role}'s server, so nothing changed; pull "
                              f"it (ollama pull {tag}) or pick one it has: {near}.")
        return
    llm.choose(role, tag)
    conversation.add_note(f"The {role} now uses {tag} for this session (models.yaml is "
                          "unchanged).")


async def clear(app: Any, conversation: Any, args: str = "") -> None:
    if not _busy(app, conversation, "clear"):
        app.session.orchestrator.clear()  # CONVERSATION_CLEARED: the pane follows the record


async def resume(app: Any, conversation: Any, args: str) -> None:
    """Leave this session (it ends as usual) and open another of this workspace's."""
    from pathlib import Path

    from sage_tui.core.log.sessions import resumable, resumable_session
    from sage_tui.paths import sage_paths
    from sage_tui.ui.screens.pickers import session_picker

    if _busy(app, conversation, "resume"):
        return
    current = app.session.log.session_id
    root = Path(app.session.orchestrator.workspace).resolve()
    directory = sage_paths().sessions

    def leave_for(session_id: str | None) -> None:
        if session_id is not None and session_id != current:
            app.next_session = session_id
            app.exit()

    if args:
        try:
            leave_for(resumable_session(args, directory, root))
        except SageError as exc:
            conversation.add_note(str(exc))
        return
    sessions = [s for s in resumable(directory, root) if s.session_id != current]
    if not sessions:
        conversation.add_note("No other session was recorded in this workspace.")
        return
    app.push_screen(session_picker(sessions), leave_for)


__all__ = ["clear", "commit", "model", "offer_commit", "redo", "resume", "undo"]
