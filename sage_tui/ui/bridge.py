"""The one interface between the core and the UI: a record subscriber and an `Approver`.

Both post messages to the app; state changes only in the app's message handlers.
The approver's future is resolved by whatever screen answers it, and every way out
of that screen (Escape included) resolves it, so the core never waits forever. A
stopped turn cancels the future and the screen is closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.app import App

from sage_tui.core.log.events import Record
from sage_tui.ui.messages import AnswerDelta, ApprovalRequested, RecordPosted

if TYPE_CHECKING:
    from sage_tui.core.agent.approval import ApprovalRequest, Decision
    from sage_tui.core.log.streaming import StreamRedactor

BATCH_SECONDS = 0.05


class UiBridge:
    """Sink, delta callback and approver for one app."""

    def __init__(self, app: App[None]) -> None:
        self.app = app
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        # The screen shows what the log shows; made with the first text, since loading the
        # redactor's rules has no place before the workbench's first frame.
        self._redactor: StreamRedactor | None = None

    def sink(self, record: Record) -> None:
        """Every record the session's recorder makes (numbered and redacted as logged).

        Answer text streamed so far comes before the record; the words the redactor still
        holds stay held (a record can arrive from another thread mid-answer), except when
        the record is the answer's end."""
        self.flush(final=record.get("event") == "ASSISTANT_MESSAGE")
        self.app.post_message(RecordPosted(record))

    def delta(self, text: str) -> None:
        """Collect streamed text; the screen gets it in batches (at most 20 a second), so a
        model streaming megabytes never floods the app's queue ahead of your keys."""
        self._pending.append(text)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)

    def flush(self, final: bool = False) -> None:
        """Post the collected text now, redacted (`final`: the answer is over, post it all)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._redactor is None:
            from sage_tui.core.log.streaming import StreamRedactor

            self._redactor = StreamRedactor()
        text = self._redactor.feed("".join(self._pending)) if self._pending else ""
        self._pending = []
        if final:
            text += self._redactor.finish()
        if text:
            self.app.post_message(AnswerDelta(text))

    async def decide(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.app.post_message(ApprovalRequested(request, future))
        return await future
