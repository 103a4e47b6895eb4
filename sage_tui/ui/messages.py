"""Messages from the core to the UI: facts that happened and requests for a decision."""

from __future__ import annotations

import asyncio

from textual.message import Message

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.log.events import Event


class CoreEventPosted(Message):
    """An event the core emitted (the same one the session log got)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


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
