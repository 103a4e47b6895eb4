"""The one interface between the core and the UI: an event sink and an `Approver`.

Both post messages to the app; state changes only in the app's message handlers.
The approver's future is resolved by whatever screen answers it, and every way out
of that screen (Escape included) resolves it, so the core never waits forever. A
stopped turn cancels the future and the screen is closed.
"""

from __future__ import annotations

import asyncio

from textual.app import App

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.log.events import Event
from sage_tui.ui.messages import AnswerDelta, ApprovalRequested, CoreEventPosted


class UiBridge:
    """Sink, delta callback and approver for one app."""

    def __init__(self, app: App[None]) -> None:
        self.app = app

    def sink(self, event: Event) -> None:
        self.app.post_message(CoreEventPosted(event))

    def delta(self, text: str) -> None:
        self.app.post_message(AnswerDelta(text))

    async def decide(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.app.post_message(ApprovalRequested(request, future))
        return await future
