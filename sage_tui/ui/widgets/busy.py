"""The busy line: what SAGE is waiting on right now, for how long, so silence never looks
like a hang. Drawn from records like every pane: a model call (role and model) from its
MODEL_ROUTING_DECISION to its TOKEN_USAGE, the experts between the route and the first
call (with the retrieval index's progress while it reads the workspace), a tool from
TOOL_CALL to its result, the tests until TEST_RUN. Hidden when idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from textual.widgets import Static

from sage_tui.core.log.events import EventName
from sage_tui.ui.records import Handler, Record, data_of

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
clock: Callable[[], float] = time.monotonic  # the test harness freezes it for snapshots


class BusyLine(Static):
    DEFAULT_CSS = """
    BusyLine { height: 1; color: $text-muted; padding: 0 1; display: none; }
    BusyLine.busy { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.doing = ""
        self.since = 0.0
        self.calls: dict[str, str] = {}  # call_id → what the model call is

    def on_mount(self) -> None:
        self.set_interval(0.1, self._tick)

    def record_handlers(self) -> Mapping[EventName, Handler]:
        return {
            EventName.ROUTE_DECISION: self._route,
            EventName.MODEL_ROUTING_DECISION: self._call, EventName.TOKEN_USAGE: self._called,
            EventName.TOOL_CALL: self._tool, EventName.TOOL_RESULT: self._done,
            EventName.TOOL_ERROR: self._done, EventName.TEST_RUN: self._done,
            EventName.POLICY_DECISION: self._policy, EventName.INDEX_PROGRESS: self._indexing,
            **dict.fromkeys((EventName.ASSISTANT_MESSAGE, EventName.ERROR,
                             EventName.TURN_CANCELLED, EventName.HUMAN_CHECKPOINT_REACHED,
                             EventName.SESSION_ENDED), self._done),
        }

    def show(self, doing: str) -> None:
        self.doing, self.since = doing, clock()
        self.add_class("busy")
        self._tick()

    def _route(self, record: Record) -> None:
        experts = data_of(record).get("experts") or []
        if experts:
            self.show(f"gathering context: {', '.join(map(str, experts))}")

    def _call(self, record: Record) -> None:
        data = data_of(record)
        doing = f"{data.get('role', '?')} · {data.get('model', '?')}"
        self.calls[str(data.get("call_id"))] = doing
        self.show(doing)

    def _called(self, record: Record) -> None:
        self.calls.pop(str(data_of(record).get("call_id")), None)
        if self.calls:
            self.show(next(reversed(self.calls.values())))
        else:
            self._done(record)

    def _indexing(self, record: Record) -> None:
        data = data_of(record)
        if data.get("done") == data.get("total"):
            self.show("gathering context: retrieval")
        else:  # one line that counts up, the clock kept from the first record
            since = self.since if self.doing.startswith("indexing") else clock()
            self.show(f"indexing the workspace: {data.get('done')}/{data.get('total')} files")
            self.since = since
            self._tick()

    def _tool(self, record: Record) -> None:
        self.show(f"running {data_of(record).get('tool', 'a tool')}")

    def _policy(self, record: Record) -> None:
        data = data_of(record)
        if data.get("tool") == "run_tests" and data.get("verdict") == "allow":
            self.show("running the tests")

    def _done(self, record: Record | None = None) -> None:
        """Nothing runs now (also when a turn ended without a record saying so)."""
        self.doing = ""
        self.calls.clear()
        self.remove_class("busy")

    def _tick(self) -> None:
        if not self.doing:
            return
        elapsed = max(0.0, clock() - self.since)
        self.update(f"{FRAMES[int(elapsed * 10) % len(FRAMES)]} {self.doing} · {elapsed:.0f} s")
