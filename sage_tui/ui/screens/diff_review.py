"""The diff reviewer: decide hunk by hunk, as with `git add -p` and lazygit's staging view.

Every exit resolves the screen's result: Enter applies the approved hunks
(`Decision("approve")`), Escape leaves the patch waiting in the queue with its decisions
(`Decision("defer")`), `d` discards it (`Decision("reject")`). Decisions are reported as
they happen through `on_hunk`. A reviewer opened on a patch that already landed, or in a
replay, is view-only: it shows the recorded decisions and takes none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from sage_tui.core.agent.approval import Decision
from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.core.patch.review import HunkReview
from sage_tui.ui.actions import bindings, keys_of
from sage_tui.ui.screens.modals import CommentModal, ConfirmModal, EditHunkModal
from sage_tui.ui.widgets.diff_view import DiffView

OnHunk = Callable[[Hunk, str, str | None], None]
Action = Callable[["DiffReviewScreen"], None]


def _when_ready(action: Action) -> Action:
    """Run the action now, or, while the screen is still being drawn, as soon as it is: a
    key pressed as the reviewer opens is a decision, never dropped, and keys run in the order
    typed."""

    @functools.wraps(action)
    def run(screen: DiffReviewScreen) -> None:
        if screen.early is not None:
            screen.early.append(action)
        else:
            action(screen)

    return run


HELP_LINE = (("review.approve", "approve"), ("review.reject", "reject"),
             ("review.next", "next"), ("review.edit", "edit"),
             ("review.comment", "comment"), ("review.split", "split"), ("review.undo", "undo"),
             ("review.back", "later"), ("review.discard", "discard"), ("app.help", "help"))
VIEW_LINE = (("review.next", "next"), ("review.previous", "prev"), ("review.view", "side/unified"),
             ("review.files", "files"), ("review.back", "back"), ("app.help", "help"))
DECIDING = frozenset({"approve", "reject", "approve_file", "edit", "comment", "split", "undo",
                      "apply", "discard"})


class DiffReviewScreen(Screen[Decision]):
    """Review one patch."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("review",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("review")
    DEFAULT_CSS = """
    DiffReviewScreen #review-title { height: 1; background: $primary; color: $text; padding: 0 1; }
    DiffReviewScreen #review-files { width: 32; border-right: solid $panel; }
    DiffReviewScreen #review-files.hidden { display: none; }
    DiffReviewScreen #review-help { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, patch: Patch, on_hunk: OnHunk | None = None, title: str = "",
                 review: HunkReview | None = None, view_only: bool = False) -> None:
        super().__init__()
        self.review = review if review is not None else HunkReview(patch)
        self.on_hunk = on_hunk
        self.view_only = view_only
        self.heading = title or f"Review patch {patch.patch_id}"
        self.index = 0
        self.early: list[Action] | None = []  # keys typed before the screen was drawn

    def compose(self) -> ComposeResult:
        yield Static(id="review-title", markup=False)  # the path is the model's
        with Horizontal():
            yield OptionList(id="review-files", markup=False)
            with Vertical():
                yield DiffView(self.review.patch, id="review-diff")
                yield Static(keys_of(self.app).hint(*(VIEW_LINE if self.view_only else HELP_LINE)),
                             id="review-help", markup=False)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.view_only and action in DECIDING)  # view-only: nothing to decide

    def on_mount(self) -> None:
        pending = self.review.pending
        if pending:  # a reopened patch starts at its first undecided hunk
            self.index = [h.hunk_id for h in self.hunks].index(pending[0])
        self._refresh()
        self.query_one(DiffView).focus()
        early, self.early = self.early or [], None
        for action in early:
            if self.is_attached and self.app.screen is self:  # not after an early apply/back
                action(self)

    # -- state --------------------------------------------------------------------------
    @property
    def hunks(self) -> list[Hunk]:
        return self.review.patch.hunks

    @property
    def hunk(self) -> Hunk:
        return self.hunks[self.index]

    def _refresh(self) -> None:
        hunks = self.hunks
        self.index = max(0, min(self.index, len(hunks) - 1))
        states = {h.hunk_id: self.review.state(h.hunk_id) for h in hunks}
        view = self.query_one(DiffView)
        view.set_patch(self.review.patch, states)
        view.show_hunk(self.hunk.hunk_id)
        decided = len(hunks) - len(self.review.pending)
        approved = len(self.review.approved)
        self.query_one("#review-title", Static).update(
            f"{self.heading}  [{self.index + 1}/{len(hunks)}]  {self.hunk.path}  ·  "
            f"{decided} decided, {approved} approved")
        files = self.query_one("#review-files", OptionList)
        files.clear_options()
        for file in self.review.patch.files:
            done = sum(1 for h in file.hunks if self.review.state(h.hunk_id) != "pending")
            mark = "✓" if done == len(file.hunks) else " "
            files.add_option(Option(f"{mark} {file.path} [{done}/{len(file.hunks)}]",
                                    id=file.path))

    def _record(self, hunk: Hunk, decision: str, comment: str | None = None) -> None:
        if self.on_hunk is not None:
            self.on_hunk(hunk, decision, comment)

    def _advance(self) -> None:
        pending = self.review.pending
        later = [i for i, h in enumerate(self.hunks) if h.hunk_id in pending and i > self.index]
        earlier = [i for i, h in enumerate(self.hunks) if h.hunk_id in pending]
        target = later or earlier
        if target:
            self.index = target[0]
        self._refresh()
        if not pending:
            keys = keys_of(self.app)
            self.notify(f"All hunks decided: {len(self.review.approved)} approved. "
                        f"{keys.key('review.apply')} applies them, {keys.key('review.undo')} undoes "
                        "the last decision.", timeout=4)

    # -- actions ------------------------------------------------------------------------
    @_when_ready
    def action_next_hunk(self) -> None:
        self.index = min(self.index + 1, len(self.hunks) - 1)
        self._refresh()

    @_when_ready
    def action_previous_hunk(self) -> None:
        self.index = max(self.index - 1, 0)
        self._refresh()

    @_when_ready
    def action_approve(self) -> None:
        self._record(self.review.decide(self.hunk.hunk_id, "approve"), "approve")
        self._advance()

    @_when_ready
    def action_reject(self) -> None:
        self._record(self.review.decide(self.hunk.hunk_id, "reject"), "reject")
        self._advance()

    @_when_ready
    def action_approve_file(self) -> None:
        path = self.hunk.path
        for hunk in self.hunks:
            if hunk.path == path and self.review.state(hunk.hunk_id) == "pending":
                self._record(self.review.decide(hunk.hunk_id, "approve"), "approve")
        self._advance()

    @_when_ready
    def action_edit(self) -> None:
        hunk = self.hunk

        def done(text: str | None) -> None:
            if text is not None:
                edited = self.review.edit(hunk.hunk_id, text)
                self._record(edited, "edit")
                self._advance()

        self.app.push_screen(EditHunkModal(hunk), done)

    @_when_ready
    def action_comment(self) -> None:
        hunk = self.hunk

        def done(text: str | None) -> None:
            if text:
                self._record(self.review.decide(hunk.hunk_id, "comment", text), "comment", text)
                self._refresh()
                self.notify("Comment kept; it reaches the model with the review.", timeout=3)

        self.app.push_screen(CommentModal(f"Comment on hunk {self.index + 1} ({hunk.path})"), done)

    @_when_ready
    def action_split(self) -> None:
        parts = self.review.split(self.hunk.hunk_id)
        if len(parts) == 1:
            self.notify("This hunk has one change; it cannot be split further.", timeout=3)
        self._refresh()

    @_when_ready
    def action_undo(self) -> None:
        hunk_id = self.review.undo()
        if hunk_id is None:
            self.notify("Nothing to undo.", timeout=2)
            return
        ids = [h.hunk_id for h in self.hunks]
        if hunk_id in ids:
            self.index = ids.index(hunk_id)
            self._record(self.review.patch.hunk(hunk_id), "undo")
        self._refresh()

    @_when_ready
    def action_toggle_view(self) -> None:
        self.query_one(DiffView).toggle_unified()

    @_when_ready
    def action_toggle_files(self) -> None:
        self.query_one("#review-files").toggle_class("hidden")

    @_when_ready
    def action_apply(self) -> None:
        if self.review.approved:
            self.dismiss(Decision("approve", review=self.review))
            return

        def answered(apply_nothing: bool | None) -> None:
            if apply_nothing:
                self.dismiss(Decision("approve", "no hunk was approved", review=self.review))

        self.app.push_screen(ConfirmModal("No hunk is approved, so nothing would be applied.",
                                          "Apply nothing and leave", "Go back and decide"),
                             answered)

    @_when_ready
    def action_discard(self) -> None:
        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(Decision("reject", "discarded in the reviewer", review=self.review))

        self.app.push_screen(ConfirmModal(f"Discard patch {self.review.patch.patch_id}? Nothing "
                                          "from it is applied.", "Discard it", "Go back"),
                             answered)

    @_when_ready
    def action_back(self) -> None:
        self.dismiss(Decision("defer", "left for later", review=self.review))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        for i, hunk in enumerate(self.hunks):
            if hunk.path == event.option.id:
                self.index = i
                break
        self._refresh()
        self.query_one(DiffView).focus()
