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
from sage_tui.core.log.events import CheckpointKind
from sage_tui.core.patch.review import HunkReview


@dataclass
class ApprovalRequest:
    """What a checkpoint asks a person."""

    checkpoint: CheckpointKind
    title: str
    steps: list[str] = field(default_factory=list)
    patch: Patch | None = None
    tool: str | None = None
    target: str | None = None
    on_hunk: Callable[[Hunk, str, str | None], None] | None = None
    review: HunkReview | None = None  # decisions already made on a patch that waited

    def hunk_review(self) -> HunkReview:
        """The patch's review so far: the one it waited with, or a fresh one."""
        assert self.patch is not None
        return self.review if self.review is not None else HunkReview(self.patch)

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
    approve_session / reject; patch → approve when the review should be applied, defer
    when the patch waits in the queue for later, reject to discard it. `review` carries
    the per-hunk decisions of a patch checkpoint.
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
            review = request.hunk_review()
            for hunk_id in review.pending:
                request.record(review, review.patch.hunk(hunk_id), "approve")
            return Decision("approve", review=review)
        return Decision("approve")


class ChosenHunks:
    """The hunks a person named on the command line (`sage apply --hunks`): those are
    approved, the rest rejected."""

    def __init__(self, chosen: list[str], comment: str | None = None) -> None:
        self.chosen, self.comment = set(chosen), comment

    async def decide(self, request: ApprovalRequest) -> Decision:
        review = request.hunk_review()
        for hunk in list(review.patch.hunks):
            verdict = "approve" if hunk.hunk_id in self.chosen else "reject"
            request.record(review, hunk, verdict, self.comment)
        return Decision("approve", review=review)
