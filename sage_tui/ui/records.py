"""How log records reach the panes: each pane says which events it shows, by `EventName`.

The app hands every record (live or replayed, the same shape) to `dispatch`; a pane
that declares a handler for the record's event gets it. The event stream shows
every record and is fed directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from sage_tui.core.log.events import EventName, Record

__all__ = ["Handler", "Record", "RecordPane", "data_of", "dispatch", "event_of"]
Handler = Callable[[Record], Awaitable[None] | None]


class RecordPane(Protocol):
    """A pane that shows some events."""

    def record_handlers(self) -> Mapping[EventName, Handler]:
        """Its handler for each event it shows."""
        ...


def event_of(record: Record) -> EventName | None:
    """The record's event, or None for a name this version does not know."""
    try:
        return EventName(str(record.get("event")))
    except ValueError:
        return None


def data_of(record: Record) -> dict[str, Any]:
    """The record's payload (empty when it has none)."""
    data = record.get("data")
    return data if isinstance(data, dict) else {}


async def dispatch(record: Record, panes: Iterable[RecordPane]) -> None:
    """Give `record` to every pane that shows its event, in order."""
    name = event_of(record)
    if name is None:
        return
    for pane in panes:
        handler = pane.record_handlers().get(name)
        if handler is not None:
            result = handler(record)
            if inspect.isawaitable(result):
                await result
