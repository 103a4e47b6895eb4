"""`sage review`: the diff reviewer alone, on any patch; approved hunks go through the engine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from sage_tui.core.agent.approval import Decision
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.core.patch.result import ApplyResult
from sage_tui.ui.actions import Keys, bindings, palette
from sage_tui.ui.screens.diff_review import DiffReviewScreen


class ReviewApp(App[None]):
    """Shows one patch; Enter applies the approved hunks, Escape leaves without applying."""

    TITLE = "SAGE review"
    BINDINGS: ClassVar[list[BindingType]] = bindings("app", only=("app.help", "app.quit"))

    def __init__(self, patch: Patch, engine: PatchEngine, keys: dict[str, str] | None = None
                 ) -> None:
        super().__init__()
        self.patch = patch
        self.engine = engine
        self.keys = keys or {}
        self.result: ApplyResult | None = None

    @property
    def action_keys(self) -> Keys:
        """The keys in force: defaults with the `[keys]` remaps."""
        return Keys(self.keys)

    def on_mount(self) -> None:
        if self.keys:
            self.set_keymap(self.keys)
        self.push_screen(DiffReviewScreen(self.patch, self._audit,
                                          title=f"Review {self.patch.patch_id}"), self._done)

    def action_help(self) -> None:
        from sage_tui.ui.screens.help import toggle_help

        toggle_help(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette(self, screen)

    def _audit(self, hunk: Hunk, decision: str, comment: str | None) -> None:
        self.engine.audit("hunk_decision", patch_id=self.patch.patch_id, hunk_id=hunk.hunk_id,
                          hunk_sha=hunk.sha, decision=decision, comment=comment)

    def _done(self, decision: Decision | None) -> None:
        if decision is not None and decision.decision == "approve" and decision.review:
            review = decision.review
            if review.approved:
                self.result = self.engine.apply(review.patch, review.approved)
        self.exit()
