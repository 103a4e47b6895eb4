"""An error banner: what went wrong and the exact fix, until the next good turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content
from textual.widgets import Static

from sage_tui.core.log.events import EventName
from sage_tui.core.log.safetext import shown
from sage_tui.ui.records import Handler, Record, data_of

if TYPE_CHECKING:
    from sage_tui.core.llm.client import LLMClient

# The ERROR kinds that mean "the model server is in trouble": worth a banner.
BANNER_KINDS = {"unreachable", "model_not_found", "timeout", "protocol"}


class ErrorBanner(Static):
    DEFAULT_CSS = """
    ErrorBanner { display: none; background: $error 20%; color: $text; border-left: thick $error;
                  padding: 0 1; height: auto; }
    ErrorBanner.shown { display: block; }
    """

    def record_handlers(self) -> Mapping[EventName, Handler]:
        return {EventName.ERROR: self._error}

    def _error(self, record: Record) -> None:
        data = data_of(record)
        if data.get("kind") in BANNER_KINDS:
            self.show(str(data.get("message", "")))

    def show(self, message: str) -> None:
        self.update(Content.assemble((message, "bold"), "\nThe workbench still works: review "
                                     "patches, browse the event log, or press ctrl+p for commands."))
        self.add_class("shown")

    def hide(self) -> None:
        self.remove_class("shown")

    @work(exclusive=True, group="health", exit_on_error=False)
    async def check(self, llm: LLMClient) -> None:
        """Say at once when the server is down or a model is not pulled."""
        from sage_tui.core.llm.health import check_roles

        health = await check_roles(llm.router, llm.backend_for)
        if health.status != "ok":
            self.show(shown(health.message))  # OLLAMA_HOST may carry a password
