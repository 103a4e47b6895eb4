"""The status line: mode, each role's model and context use, session tokens, ids."""

from __future__ import annotations

from textual.widgets import Static

from sage_tui.core.llm.client import LLMClient

ROLES = ("router", "planner", "coder", "reviewer", "summarizer")


def context_colour(fraction: float) -> str:
    """green under 60 %, amber under 85 %, red above."""
    if fraction >= 0.85:
        return "$error"
    if fraction >= 0.60:
        return "$warning"
    return "$success"


class StatusBar(Static):
    """Rebuilt whenever the app says something it shows changed."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def show(self, *, mode: str, llm: LLMClient, session_id: str, trace_id: str | None,
             label: str) -> None:
        ledger = llm.ledger
        mark = "~" if ledger.estimated else ""
        parts = [f"[b]{mode}[/b]",
                 f"tokens {mark}{ledger.prompt_tokens:,}/{mark}{ledger.completion_tokens:,}"]
        by_model: dict[str, list[str]] = {}
        for role in ROLES:
            usage = ledger.roles.get(role)
            model = usage.model if usage else llm.router.primary(role).model
            if usage and usage.last_prompt:
                fraction = usage.context_fraction
                meter = f"[{context_colour(fraction)}]{fraction:.0%}[/]"
            else:
                meter = "[dim]-[/]"
            by_model.setdefault(model, []).append(f"{role} {meter}")
        for model, roles in by_model.items():
            parts.append(f"{model}: {' '.join(roles)}")
        parts.append(label)
        parts.append(f"session {session_id[-6:]}" + (f" trace {trace_id[:8]}" if trace_id else ""))
        self.update(" │ ".join(parts))
