"""Pickers: choose one of a list with the arrow keys and Enter (Escape changes nothing).

`session_picker` lists the conversations recorded in this workspace, newest first (time,
turns, tokens, first message), for `sage resume` and `/resume`; `/model` lists the models
the server has in a `Picker` too. `PickerApp` runs a picker on its own, before the
workbench opens (`sage resume` without an id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from sage_tui.core.log.safetext import shown
from sage_tui.core.log.sessions import SessionSummary
from sage_tui.core.log.tracefmt import local_datetime
from sage_tui.ui.actions import bindings, keys_of
from sage_tui.ui.screens.modals import MODAL_CSS


class Picker(ModalScreen[str | None]):
    """A titled list; Enter answers the highlighted option's id, Escape answers None."""

    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("picker",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("picker")
    DEFAULT_CSS = MODAL_CSS.format(name="Picker") + \
        "Picker OptionList { height: auto; max-height: 20; }"

    def __init__(self, title: str, options: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)  # (id, label)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title", markup=False)
            yield OptionList(*(Option(label, id=key) for key, label in self.options), markup=False)
            yield Label(f"↑↓ choose · enter opens · {keys_of(self.app).key('picker.cancel')} "
                        "cancels", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(str(message.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


def session_label(summary: SessionSummary) -> str:
    """One line: when, how long, what it cost, and what it began with."""
    tokens = summary.prompt_tokens + summary.completion_tokens
    first = " ".join(shown(summary.first_message).split())[:60] or "(no message)"
    turns = f"{summary.turns} turn{'' if summary.turns == 1 else 's'}"
    when = local_datetime(summary.last or summary.started)  # the order is by last activity
    return f"{when}  {turns:>9}  {tokens:>8,} tokens  {first}"


def session_picker(sessions: Sequence[SessionSummary]) -> Picker:
    return Picker("Continue which session? (most recently used first)",
                  [(s.session_id, session_label(s)) for s in sessions])


class PickerApp(App[str | None]):
    """One picker and nothing else: `sage resume` without an id."""

    def __init__(self, picker: Picker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.picker = picker

    def on_mount(self) -> None:
        self.push_screen(self.picker, self.exit)
