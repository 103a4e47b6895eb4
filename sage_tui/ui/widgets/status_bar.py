"""The status line: mode, each role's model and context use, session tokens, ids."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from sage_tui.core.log.events import ROLES, EventName
from sage_tui.ui.records import Handler, Record

if TYPE_CHECKING:
    from sage_tui.core.llm.client import LLMClient
    from sage_tui.factory import Session

SEP = (" │ ", "dim")


def context_colour(fraction: float) -> str:
    """green under 60 %, amber under 85 %, red above."""
    if fraction >= 0.85:
        return "$error"
    if fraction >= 0.60:
        return "$warning"
    return "$success"


class StatusBar(Static):
    """Rebuilt when a model is picked or tokens are counted, and when the app asks."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.refresher: Callable[[], None] = lambda: None  # set by the app once a session runs

    def record_handlers(self) -> Mapping[EventName, Handler]:
        return {EventName.TOKEN_USAGE: self._changed,
                EventName.MODEL_ROUTING_DECISION: self._changed}

    def _changed(self, record: Record) -> None:
        self.refresher()

    def follow(self, session: Session) -> None:
        """Show `session`'s mode, models, tokens and ids, now and whenever they change."""
        def refresh() -> None:
            self.show(mode=session.orchestrator.mode, llm=session.llm,
                      session_id=session.log.session_id, trace_id=session.log.trace_id,
                      label=session.orchestrator.backend_label)

        self.refresher = refresh
        refresh()

    def show(self, *, mode: str, llm: LLMClient, session_id: str, trace_id: str | None,
             label: str) -> None:
        ledger = llm.ledger
        mark = "~" if ledger.estimated else ""
        parts: list[str | tuple[str, str]] = [(mode, "bold"), SEP,
                                              f"tokens {mark}{ledger.prompt_tokens:,}/"
                                              f"{mark}{ledger.completion_tokens:,}"]
        by_model: dict[str, list[tuple[str, float | None]]] = {}
        for role in ROLES:
            usage = ledger.roles.get(role)
            model = usage.model if usage else llm.router.primary(role).model
            fraction = usage.context_fraction if usage and usage.last_prompt else None
            by_model.setdefault(model, []).append((role, fraction))
        for model, roles in by_model.items():
            parts += [SEP, f"{model}:"]
            for name, fraction in roles:
                parts.append(f" {name} ")
                parts.append((f"{fraction:.0%}", context_colour(fraction)) if fraction is not None
                             else ("-", "dim"))
        parts += [SEP, label, SEP, f"session {session_id}"]
        if trace_id:
            parts.append(f" trace {trace_id[:12]}")
        self.update(Content.assemble(*parts))
