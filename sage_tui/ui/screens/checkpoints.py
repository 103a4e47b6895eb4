"""Which screen answers which checkpoint: the plan modal, the tool-ask modal, the reviewer."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.screen import Screen

from sage_tui.core.agent.approval import ApprovalRequest


def checkpoint_screen(request: ApprovalRequest) -> Screen[Any]:
    """The screen a person answers `request` on; every way out of it resolves a Decision."""
    from sage_tui.ui.screens.modals import PlanModal, ToolAskModal

    if request.checkpoint == "plan":
        return PlanModal(request)
    if request.checkpoint == "tool":
        return ToolAskModal(request)
    from sage_tui.ui.screens.diff_review import DiffReviewScreen

    assert request.patch is not None
    return DiffReviewScreen(request.patch, request.on_hunk)


def close_checkpoint(app: App[Any], screen: Screen[Any]) -> None:
    """Close a checkpoint's screen, and any box opened over it (a comment, an edit) first."""
    while app.screen is not screen and len(app.screen_stack) > 2:
        app.pop_screen()
    screen.dismiss(None)
