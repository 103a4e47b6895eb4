"""An error banner: what went wrong and the exact fix, until the next good turn."""

from __future__ import annotations

from textual.widgets import Static


class ErrorBanner(Static):
    DEFAULT_CSS = """
    ErrorBanner { display: none; background: $error 20%; color: $text; border-left: thick $error;
                  padding: 0 1; height: auto; }
    ErrorBanner.shown { display: block; }
    """

    def show(self, message: str) -> None:
        self.update(f"[b]{message}[/b]\nThe workbench still works: review patches, browse the "
                    "event log, or press ctrl+p for commands.")
        self.add_class("shown")

    def hide(self) -> None:
        self.remove_class("shown")
