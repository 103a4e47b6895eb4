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

BATCH_SECONDS = 0.05


class UiBridge:
    """Sink, delta callback and approver for one app."""

    def __init__(self, app: App[None]) -> None:
        self.app = app
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def sink(self, event: Event) -> None:
        self.flush()  # answer text streamed so far comes before the event that follows it
        self.app.post_message(CoreEventPosted(event))

    def delta(self, text: str) -> None:
        """Collect streamed text; the screen gets it in batches (at most 20 a second), so a
        model streaming megabytes never floods the app's queue ahead of your keys."""
        self._pending.append(text)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        """Post the collected text now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self.app.post_message(AnswerDelta(text))

    async def decide(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.app.post_message(ApprovalRequested(request, future))
        return await future
