"""The conversation: your messages, streamed Markdown answers, tool calls, errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from sage_tui.core.log.events import EventName
from sage_tui.core.log.tracefmt import summary
from sage_tui.ui.actions import bindings
from sage_tui.ui.records import Handler, Record, data_of

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownStream


SHOWN_CHARS = 60_000


class Conversation(VerticalScroll):
    """A scrolling transcript. Answers stream in through `Markdown.get_stream`.

    Once its text overflows the pane it is anchored (Textual's `anchor`): it follows the
    newest text, even a long answer on a small terminal; scrolled up, it stays where the
    person put it, and End follows again. (Anchoring an unfilled pane would push its
    first lines to the bottom, so it waits until the pane is full.)
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("conversation")

    DEFAULT_CSS = """
    Conversation { padding: 0 1; }
    Conversation .user { color: $text; background: $boost; padding: 0 1; margin: 1 0 0 0; }
    Conversation .user-label { color: $primary; text-style: bold; margin: 1 0 0 0; }
    Conversation .answer-label { color: $secondary; text-style: bold; margin: 1 0 0 0; }
    Conversation Markdown { margin: 0; padding: 0; }
    Conversation .error { color: $error; border-left: thick $error; padding: 0 1; margin: 1 0 0 0; }
    Conversation .note { color: $text-muted; margin: 1 0 0 0; }
    Conversation Collapsible { margin: 0; padding: 0; border: none; background: transparent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._stream: MarkdownStream | None = None
        self._answer: Markdown | None = None
        self._shown = 0  # characters of the current answer on screen
        self._last_answer = ""
        self._batch: list[Widget] | None = None

    def last_answer(self) -> str:
        """The newest answer's text, as shown (redacted like the log)."""
        return self._last_answer

    def action_newest(self) -> None:
        self.anchor()

    def _follow(self) -> None:
        if not self.is_anchored:
            self.call_after_refresh(self._anchor_when_full)

    def _anchor_when_full(self) -> None:
        if self.max_scroll_y > 0:
            self.anchor()

    def record_handlers(self) -> Mapping[EventName, Handler]:
        """What the conversation shows of the log: messages, routes, tools, tests, errors."""
        return {
            EventName.USER_MESSAGE: lambda r: self.add_user(str(data_of(r).get("text", ""))),
            EventName.ROUTE_DECISION: lambda r: self.add_note(summary(r)),
            EventName.TOOL_RESULT: self._tool,
            EventName.TOOL_ERROR: self._tool,
            EventName.TEST_RUN: lambda r: self.add_note(f"tests: {summary(r)}"),
            EventName.ERROR: lambda r: self.add_error(str(data_of(r).get("message", ""))),
            EventName.ASSISTANT_MESSAGE: lambda r: self.end_answer(str(data_of(r).get("text", ""))),
            EventName.TURN_CANCELLED: self._cancelled,
            EventName.SESSION_RESUMED: lambda r: self.add_note(
                f"Continued session {r.get('session_id')}: {summary(r)}. The next turn is "
                f"{int(data_of(r).get('turns') or 0) + 1}."),
            EventName.CONVERSATION_CLEARED: self._cleared,
            EventName.COMMIT_CREATED: lambda r: self.add_note(summary(r)),
        }

    async def _cleared(self, record: Record) -> None:
        await self.end_answer()
        await self.remove_children()
        self._last_answer = ""
        self.add_note("A new conversation: the model no longer sees the earlier messages "
                      "(they stay in the session log; `sage trace` shows them).")

    async def _cancelled(self, record: Record) -> None:
        await self.end_answer()
        self.add_note("Stopped. Nothing half-done was left behind.")

    def _tool(self, record: Record) -> None:
        data = data_of(record)
        ok = record.get("event") == EventName.TOOL_RESULT and data.get("ok")
        self.add_tool(f"{'✓' if ok else '✗'} {summary(record)}", _detail(data))

    def _add(self, *widgets: Widget) -> None:
        if self._batch is not None:
            self._batch.extend(widgets)  # a continued session's turns: mounted at once
            return
        self.mount(*widgets)
        self._follow()

    def hold(self) -> None:
        """Collect what is added (a redraw of many turns) until `release` mounts it at once."""
        self._batch = []

    async def release(self) -> None:
        batch, self._batch = self._batch or [], None
        if batch:
            await self.mount_all(batch)
            self._follow()

    def add_user(self, text: str) -> None:
        self._add(Static("you", classes="user-label"), Static(text, classes="user", markup=False))

    def add_note(self, text: str) -> None:
        self._add(Static(text, classes="note", markup=False))

    def add_error(self, text: str) -> None:
        self._add(Static(text, classes="error", markup=False))

    def add_tool(self, title: str, detail: str) -> None:
        from textual.widgets import Collapsible

        self._add(Collapsible(Static(detail, markup=False), title=title, collapsed=True))

    async def write_answer(self, fragment: str, label: str = "sage") -> None:
        """Append streamed text to the current answer, starting one if needed.

        An answer is shown up to `SHOWN_CHARS`; the rest is left to the session log, so a
        huge reply never slows the screen.
        """
        if self._shown >= SHOWN_CHARS:
            return
        if self._shown + len(fragment) >= SHOWN_CHARS:
            fragment = fragment[:SHOWN_CHARS - self._shown] + (
                "\n\n*(The rest of this answer is not shown here; `sage trace` has all of it.)*")
        self._shown += len(fragment)
        if self._stream is None:
            self._last_answer = ""
        self._last_answer += fragment
        if self._stream is None:
            from textual.widgets import Markdown  # the parser loads with the first answer

            self._answer = Markdown()
            await self.mount(Static(label, classes="answer-label"), self._answer)
            self._stream = Markdown.get_stream(self._answer)
        await self._stream.write(fragment)
        self._follow()

    async def end_answer(self, final: str | None = None) -> None:
        """Close the streamed answer; `final` replaces it when nothing was streamed."""
        if self._batch is not None and self._stream is None and final:
            from textual.widgets import Markdown

            self._last_answer = final[:SHOWN_CHARS]
            self._add(Static("sage", classes="answer-label"), Markdown(self._last_answer))
            return
        if self._stream is None and final:
            await self.write_answer(final)
        if self._stream is not None:
            await self._stream.stop()
        self._stream = None
        self._answer = None
        self._shown = 0


def _detail(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)[:4000]
