"""Messages from the core to the UI: facts that happened and requests for a decision."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.message import Message

from sage_tui.core.log.events import Record

if TYPE_CHECKING:
    from sage_tui.core.agent.approval import ApprovalRequest, Decision
    from sage_tui.core.agent.orchestrator import TurnResult


class RecordPosted(Message):
    """A record the session's recorder made: the very one the session log holds."""

    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record


class AnswerDelta(Message):
    """A piece of the streamed answer."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ApprovalRequested(Message):
    """The core waits on `future` for a person's decision."""

    def __init__(self, request: ApprovalRequest, future: asyncio.Future[Decision]) -> None:
        super().__init__()
        self.request = request
        self.future = future


class TurnFinished(Message):
    """The turn worker is done: with a result, cancelled, or failed unexpectedly (`error`)."""

    def __init__(self, text: str, result: TurnResult | None, error: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.result = result
        self.error = error
