"""The routing and event-log stream: every event, live, coloured by kind.

It renders only the visible lines (`render_line`), keeps the formatted text of each
record once, and coalesces bursts: new records mark the view dirty and a timer
refreshes it at most 20 times a second, so thousands of events per second never
block input. A filter (`/`) takes event globs and `role:NAME`; `p` pauses or
follows; Enter opens the selected event's full JSON.
"""

from __future__ import annotations

import fnmatch
from typing import Any, ClassVar

from rich.segment import Segment
from textual.binding import BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from sage_tui.core.log.tracefmt import CATEGORIES, local_time, summary
from sage_tui.ui.actions import bindings
from sage_tui.ui.widgets.linescroll import LineScrollView

MAX_RECORDS = 200_000
NAME_WIDTH = 22  # the longest names (HUMAN_CHECKPOINT_REACHED) are cut


class EventStream(LineScrollView, can_focus=True):
    """A virtual list of session-log records."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("events")
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-stream--time", "event-stream--cursor", "event-stream--session",
        "event-stream--message", "event-stream--routing", "event-stream--model",
        "event-stream--tool", "event-stream--policy", "event-stream--checkpoint",
        "event-stream--patch", "event-stream--test", "event-stream--error",
    }
    DEFAULT_CSS = """
    EventStream { background: $surface; scrollbar-size-vertical: 1; }
    EventStream > .event-stream--time { color: $text-muted; }
    EventStream > .event-stream--cursor { background: $boost; text-style: bold; }
    EventStream > .event-stream--session { color: $primary; }
    EventStream > .event-stream--message { color: $foreground; }
    EventStream > .event-stream--routing { color: $accent; }
    EventStream > .event-stream--model { color: $secondary; }
    EventStream > .event-stream--tool { color: $success; }
    EventStream > .event-stream--policy { color: $warning; }
    EventStream > .event-stream--checkpoint { color: $warning; text-style: bold; }
    EventStream > .event-stream--patch { color: $primary; }
    EventStream > .event-stream--test { color: $success; }
    EventStream > .event-stream--error { color: $error; text-style: bold; }
    """

    following: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(-1)

    class Selected(Message):
        """A record was opened for details."""

        def __init__(self, record: dict[str, Any]) -> None:
            super().__init__()
            self.record = record

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.records: list[dict[str, Any]] = []
        self._lines: dict[int, str] = {}
        self._visible: list[int] = []
        self._events: set[str] | None = None
        self._roles: set[str] | None = None
        self._dirty = False

    def on_mount(self) -> None:
        self.set_interval(1 / 20, self._flush)

    # -- feeding ------------------------------------------------------------------------
    def add(self, record: dict[str, Any]) -> None:
        """Queue one record; the view catches up on the next tick."""
        self.records.append(record)
        if len(self.records) > MAX_RECORDS:  # bounded memory: drop the oldest tenth at once
            del self.records[:MAX_RECORDS // 10]
            self._lines.clear()
            self._refilter()
        elif self._wanted(record):
            self._visible.append(len(self.records) - 1)
        self._dirty = True

    def _flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.virtual_size = Size(0, len(self._visible))  # lines are cropped: Enter shows all
        if self.following:
            self.cursor = len(self._visible) - 1
            self.scroll_end(animate=False, immediate=True)
        self.refresh()

    # -- filtering ----------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """`TOOL_* role:coder ERROR` → events matching any glob, of any listed role."""
        events: set[str] = set()
        roles: set[str] = set()
        for token in text.split():
            if token.lower().startswith("role:"):
                roles.add(token[5:].lower())
            else:
                matched = {n for n in CATEGORIES if fnmatch.fnmatchcase(n, token.upper())}
                events |= matched or {f"__none__{token}"}  # a glob that matches nothing shows nothing
        self._events = events or None
        self._roles = roles or None
        self._refilter()

    @property
    def filter_text(self) -> str:
        parts = sorted(e for e in self._events or () if not e.startswith("__none__"))
        return " ".join(parts + [f"role:{r}" for r in sorted(self._roles or ())])

    def _wanted(self, record: dict[str, Any]) -> bool:
        if self._events is not None and record.get("event") not in self._events:
            return False
        if self._roles is not None:
            role = str((record.get("data") or {}).get("role", "")).lower()
            return role in self._roles
        return True

    def _refilter(self) -> None:
        self._visible = [i for i, r in enumerate(self.records) if self._wanted(r)]
        self.cursor = min(self.cursor, len(self._visible) - 1)
        self._dirty = True

    @property
    def visible_count(self) -> int:
        return len(self._visible)

    # -- rendering ----------------------------------------------------------------------
    def _text(self, index: int) -> str:
        """`HH:MM:SS EVENT_NAME…  summary` (turn and milliseconds are in the details)."""
        text = self._lines.get(index)
        if text is None:
            record = self.records[index]
            name = str(record.get("event", "?"))
            text = f"{local_time(record.get('ts'))[:8]} {name[:NAME_WIDTH]:<{NAME_WIDTH}} " \
                   f"{summary(record)}"
            if len(self._lines) > 20_000:
                self._lines.clear()
            self._lines[index] = text
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        style = base = self.line_style
        if row == self.cursor:
            base = base + self.get_component_rich_style("event-stream--cursor")
        if row >= len(self._visible):
            return Strip.blank(width, style)
        index = self._visible[row]
        text = self._text(index)
        category = CATEGORIES.get(str(self.records[index].get("event")), "message")
        time_style = base + self.get_component_rich_style("event-stream--time")
        kind_style = base + self.get_component_rich_style(f"event-stream--{category}")
        cut = 9 + NAME_WIDTH + 1
        segments = [Segment(text[:9], time_style), Segment(text[9:cut], kind_style),
                    Segment(text[cut:], base)]
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    # -- actions ------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    def action_cursor(self, step: int) -> None:
        if not self._visible:
            return
        self.following = False
        self.cursor = max(0, min(len(self._visible) - 1, self.cursor + step))
        self.scroll_to_region_of(self.cursor)

    def scroll_to_region_of(self, row: int) -> None:
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_cursor_home(self) -> None:
        self.following = False
        self.cursor = 0
        self.scroll_home(animate=False)

    def action_cursor_end(self) -> None:
        self.following = True
        self._dirty = True

    async def action_filter(self) -> None:
        await self.screen.run_action("filter")

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self._dirty = True
        self.notify("Following new events" if self.following else "Paused: new events wait below",
                    timeout=2)

    def action_details(self) -> None:
        if 0 <= self.cursor < len(self._visible):
            self.post_message(self.Selected(self.records[self._visible[self.cursor]]))
