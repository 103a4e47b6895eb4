"""The workbench: conversation on the left, routing/event stream and patch queue on the right."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from sage_tui.ui.widgets.banner import ErrorBanner
from sage_tui.ui.widgets.conversation import Conversation
from sage_tui.ui.widgets.event_stream import EventStream
from sage_tui.ui.widgets.patch_queue import PatchQueue
from sage_tui.ui.widgets.prompt import PromptInput
from sage_tui.ui.widgets.status_bar import StatusBar


class WorkbenchScreen(Screen[None]):
    """Panes only; the app routes core events into them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter events", tooltip="Filter the event stream",
                id="workbench.filter"),
        Binding("f2", "focus_events", "Events", tooltip="Focus the event stream",
                id="workbench.events", priority=True),
        Binding("f3", "focus_patches", "Patches", tooltip="Focus the patch queue",
                id="workbench.patches", priority=True),
        Binding("ctrl+l", "focus_prompt", "Prompt", tooltip="Focus the message input",
                id="workbench.prompt", priority=True),
    ]

    def compose(self) -> ComposeResult:
        yield ErrorBanner(id="banner")
        with Horizontal(id="panes"):
            yield Conversation(id="conversation")
            with Vertical(id="side"):
                yield Static("Routing & events", id="events-title")
                yield Input(placeholder="filter: TOOL_* ERROR role:coder (enter applies, "
                            "empty clears)", id="event-filter")
                yield EventStream(id="events")
                yield PatchQueue(id="patches")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#event-filter").display = False
        self.query_one(PromptInput).focus()

    def action_filter(self) -> None:
        box = self.query_one("#event-filter", Input)
        box.display = True
        box.value = self.query_one(EventStream).filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "event-filter":
            stream = self.query_one(EventStream)
            stream.set_filter(event.value)
            title = f"Routing & events — filter: {event.value}" if event.value.strip() \
                else "Routing & events"
            self.query_one("#events-title", Static).update(title)
            event.input.display = False
            stream.focus()

    def action_focus_events(self) -> None:
        self.query_one(EventStream).focus()

    def action_focus_patches(self) -> None:
        self.query_one(PatchQueue).focus()

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()
