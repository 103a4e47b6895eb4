"""The recorder: every event becomes one numbered, redacted record, and every consumer gets it.

`emit` stamps `seq`, `ts`, `turn`, the session and trace ids, redacts the payload once,
and hands the same record, in `seq` order and under one lock, to each subscriber: the
session-log writer first, then the workbench, the headless printer, exporters, tests.
What the screen shows is therefore byte for byte what the log holds, and what a replay
shows later.

The first subscriber (the log writer) may fail the emit: a record that cannot be written
must not be shown as if it were. Any other subscriber that raises is dropped from the
list with one warning, so a broken exporter or a closed window never fails a turn.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from sage_tui.core.log.clock import now_iso
from sage_tui.core.log.events import Event
from sage_tui.core.log.events import Record as Record

FORMAT_VERSION = 1
Subscriber = Callable[[Record], None]


class SubscriberDropped(UserWarning):
    """A subscriber raised and no longer receives records."""


class Recorder:
    """Numbers, stamps and redacts events, and delivers the records to its subscribers."""

    def __init__(self, session_id: str, trace_id: str | None, *, next_seq: int = 1,
                 turn: int = 0, writer: Subscriber | None = None) -> None:
        # The redactor's rules load with the first recorder: reading logs never needs them.
        from sage_tui.core.log.redaction import redact_value

        self._redact = redact_value
        self.session_id = session_id
        self.trace_id = trace_id
        self.turn = turn
        self._next_seq = next_seq
        self._writer = writer
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        """Deliver every later record to `subscriber` too (after the log writer)."""
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def emit(self, event: str, data: Mapping[str, Any], turn: int | None = None) -> Record:
        """Record one event; returns the record every subscriber received.

        A `turn` given here becomes the current turn for later events emitted without one.
        """
        payload = self._redact(data)  # outside the lock: the slow part, and pure
        with self._lock:
            if turn is not None:
                self.turn = turn
            record: Record = {
                "v": FORMAT_VERSION, "seq": self._next_seq, "ts": now_iso(),
                "session_id": self.session_id, "trace_id": self.trace_id, "turn": self.turn,
                "event": str(event), "data": payload,
            }
            if self._writer is not None:
                self._writer(record)  # its failure is the caller's: nothing was recorded
            self._next_seq += 1
            for subscriber in list(self._subscribers):
                try:
                    subscriber(record)
                except Exception as exc:  # a consumer's bug never fails a turn
                    self._subscribers.remove(subscriber)
                    warnings.warn(f"{getattr(subscriber, '__qualname__', subscriber)} stopped "
                                  f"receiving records after it failed: {exc}",
                                  SubscriberDropped, stacklevel=2)
        return record

    def sink(self, event: Event) -> None:
        """The recorder as the core's event sink (`events.Sink`)."""
        self.emit(event.name, event.data, event.turn)
