"""Human decisions: one `Approver` protocol for every checkpoint (DESIGN.md §1).

The core awaits `approver.decide(request)`; the TUI answers from its modals and diff
reviewer, `sage run --mode research` from terminal prompts, and `ModeApprover`
answers for auto and silent modes without asking. Hunk decisions are reported as they
are made through `request.on_hunk`, so the log shows them in the order they happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.core.patch.review import HunkReview


@dataclass
class ApprovalRequest:
    """What a checkpoint asks a person."""

    checkpoint: str  # "plan", "patch" or "tool"
    title: str
    steps: list[str] = field(default_factory=list)
    patch: Patch | None = None
    tool: str | None = None
    target: str | None = None
    on_hunk: Callable[[Hunk, str, str | None], None] | None = None

    def record(self, review: HunkReview, hunk: Hunk, decision: str,
               comment: str | None = None) -> None:
        """Decide `hunk` in `review` and report it through `on_hunk`."""
        review.decide(hunk.hunk_id, decision, comment)
        if self.on_hunk is not None:
            self.on_hunk(hunk, decision, comment)


@dataclass
class Decision:
    """The answer.

    `decision`: plan → approve / reject / edit / respond; tool → approve (once) /
    approve_session / reject; patch → approve when the review should be applied,
    reject to stop. `review` carries the per-hunk decisions of a patch checkpoint.
    """

    decision: str
    comment: str | None = None
    steps: list[str] | None = None
    review: HunkReview | None = None
    by: str | None = None  # who decided; the checkpoint service fills in "person" or the mode


class Approver(Protocol):
    """Anything that can answer a checkpoint."""

    async def decide(self, request: ApprovalRequest) -> Decision:
        ...


class ModeApprover:
    """auto and silent modes: approve everything, every hunk, without asking."""

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.checkpoint == "patch" and request.patch is not None:
            from sage_tui.core.patch.review import HunkReview

            review = HunkReview(request.patch)
            for hunk in request.patch.hunks:
                request.record(review, hunk, "approve")
            return Decision("approve", review=review)
        return Decision("approve")
