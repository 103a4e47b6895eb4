"""`sage review`: the diff reviewer alone, on any patch, through the same patch gate as the
workbench: the checkpoint, every hunk decision and the result go to a session log and the
audit; approved hunks go through the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.agent.checkpoints import Checkpoints
from sage_tui.core.agent.patchgate import PatchGate
from sage_tui.core.log.events import Sink
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import Patch
from sage_tui.core.patch.result import ApplyResult
from sage_tui.ui.actions import Keys, bindings, palette


class ReviewApp(App[None]):
    """Shows one patch; Enter applies the approved hunks, Escape or `d` leave without."""

    TITLE = "SAGE review"
    BINDINGS: ClassVar[list[BindingType]] = bindings("app", only=("app.help", "app.quit"))

    def __init__(self, patch: Patch, engine: PatchEngine, sink: Sink,
                 keys: dict[str, str] | None = None, source: str = "") -> None:
        super().__init__()
        self.patch = patch
        self.gate = PatchGate(Checkpoints(sink, self), engine, sink)
        self.keys = keys or {}
        self.source = source
        self.decision: Decision | None = None
        self.result: ApplyResult | None = None

    @property
    def action_keys(self) -> Keys:
        """The keys in force: defaults with the `[keys]` remaps."""
        return Keys(self.keys)

    def on_mount(self) -> None:
        if self.keys:
            self.set_keymap(self.keys)
        self._review()

    @work(exclusive=True, exit_on_error=False)
    async def _review(self) -> None:
        self.gate.propose(self.patch, source=self.source)
        self.decision = await self.gate.decide(self.patch)
        review = self.decision.review
        if self.decision.decision == "approve" and review is not None and review.approved:
            self.result = await self.gate.apply(review)
        self.exit()

    async def decide(self, request: ApprovalRequest) -> Decision:
        """The person's decision, from the reviewer (the checkpoint service asks here)."""
        from sage_tui.ui.screens.checkpoints import checkpoint_screen

        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def done(decision: Decision | None) -> None:
            if not future.done():
                future.set_result(decision or Decision("defer", "closed"))

        self.push_screen(checkpoint_screen(request), done)
        return await future

    def action_help(self) -> None:
        from sage_tui.ui.screens.help import toggle_help

        toggle_help(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette(self, screen)
