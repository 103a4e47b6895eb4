"""Which screen answers which checkpoint: the plan modal, the tool-ask modal, the reviewer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen

from sage_tui.core.agent.approval import ApprovalRequest, Decision


def checkpoint_screen(request: ApprovalRequest) -> Screen[Any]:
    """The screen a person answers `request` on; every way out of it resolves a Decision."""
    from sage_tui.ui.screens.modals import PlanModal, ToolAskModal

    if request.checkpoint == "plan":
        return PlanModal(request)
    if request.checkpoint == "tool":
        return ToolAskModal(request)
    from sage_tui.ui.screens.diff_review import DiffReviewScreen

    assert request.patch is not None
    return DiffReviewScreen(request.patch, request.on_hunk, review=request.hunk_review())


def open_checkpoint(app: App[Any], request: ApprovalRequest, future: asyncio.Future[Decision],
                    closed: Callable[[], None]) -> Screen[Any] | None:
    """Open the screen for `request` (None when its checkpoint is already over); every way out
    of it resolves `future` (a screen closed without a decision answers reject) and then
    calls `closed`."""
    from sage_tui.ui.widgets.patch_queue import PatchQueue

    if future.done():  # the turn was stopped before this screen could open
        closed()
        return None
    if request.patch is not None:  # the queue keeps the whole diff (the log's may be cut)
        app.screen_stack[0].query_one(PatchQueue).remember(request.patch.patch_id,
                                                           request.patch.text())
    screen = checkpoint_screen(request)

    def resolve(decision: Decision | None) -> None:
        closed()
        if not future.done():
            future.set_result(decision or Decision("reject", "closed"))

    app.push_screen(screen, resolve)
    return screen


def close_checkpoint(app: App[Any], screen: Screen[Any]) -> None:
    """Close a checkpoint's screen, and any box opened over it (a comment, an edit) first."""
    while app.screen is not screen and len(app.screen_stack) > 2:
        app.pop_screen()
    screen.dismiss(None)
