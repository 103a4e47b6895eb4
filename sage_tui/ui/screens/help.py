"""The help screen: every key that works, where it works (generated from the bindings)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

from sage_tui.ui.screens.modals import MODAL_CSS

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "⏎"}


def keys_table(title: str, bindings: list[BindingType]) -> str:
    rows = [f"### {title}", "", "| key | does |", "|---|---|"]
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            keys = ", ".join(KEY_NAMES.get(k, k) for k in binding.key.split(","))
            rows.append(f"| `{keys}` | {binding.tooltip or binding.description} |")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen") + \
        "HelpScreen VerticalScroll { height: auto; max-height: 40; }"

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        text = "\n\n".join(keys_table(title, bindings) for title, bindings in self.sections)
        with Vertical():
            yield Label("SAGE keys (every one is also in the command palette, ctrl+p)",
                        classes="title")
            with VerticalScroll():
                yield Markdown(text)
            yield Label("Remap any key in config.toml under [keys] by its id, e.g. "
                        "\"review.approve\" = \"Y\"",
                        classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
