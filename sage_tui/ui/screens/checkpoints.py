"""Which screen answers which checkpoint: the plan modal, the tool-ask modal, the reviewer."""

from __future__ import annotations

from typing import Any

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
