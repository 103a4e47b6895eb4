"""The help screen: every key that works, where it works, and the id that remaps it.

Generated from the action registry with the keys in force, so a `[keys]` remap in
config.toml shows here as it does in the footer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

from sage_tui.ui.actions import ACTIONS, OWNERS, Keys, bindings, display, keys_of
from sage_tui.ui.screens.modals import MODAL_CSS


def keys_markdown(keys: Keys) -> str:
    """The commands typed in the prompt, then one table per owner: key, what it does, the id
    to remap it by."""
    from sage_tui.ui.slash import commands_markdown

    sections = ["### Commands (type them in the message input; Tab completes)\n\n"
                + commands_markdown()]
    for owner, title in OWNERS.items():
        rows = [f"### {title}", "", "| key | does | id |", "|---|---|---|"]
        rows += [f"| `{display(keys.keys(a.id))}` | {a.tooltip or a.description} | `{a.id}` |"
                 for a in ACTIONS if a.owner == owner]
        sections.append("\n".join(rows))
    return "\n\n".join(sections)


DOCS_START = "<!-- generated from the action registry and the command registry: do not edit -->"
DOCS_END = "<!-- end of the generated tables -->"


def docs_tables() -> str:
    """The block `docs/workbench.md` holds (a test fails when they drift apart)."""
    return f"{DOCS_START}\n\n{keys_markdown(Keys())}\n\n{DOCS_END}"


if __name__ == "__main__":  # python -m sage_tui.ui.screens.help: the block, to paste
    print(docs_tables())


class HelpScreen(ModalScreen[None]):
    ACTION_OWNERS: ClassVar[tuple[str, ...]] = ("help",)
    BINDINGS: ClassVar[list[BindingType]] = bindings("help")
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen") + \
        "HelpScreen VerticalScroll { height: auto; max-height: 40; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("SAGE keys (ctrl+p lists the actions that work where you are)",
                        classes="title")
            with VerticalScroll():
                yield Markdown(keys_markdown(keys_of(self.app)))
            yield Label('Remap any key in config.toml under [keys] by its id, e.g. '
                        '"review.approve" = "Y"', classes="hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def toggle_help(app: App[Any]) -> None:
    """Open help, or close it when it is open: the help key closes it, remapped or not."""
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss(None)
    else:
        app.push_screen(HelpScreen())
