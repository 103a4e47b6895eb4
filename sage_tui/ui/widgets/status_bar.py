"""The status line: mode, each role's model and context use, session tokens, ids.

It is drawn from records alone (SESSION_STARTED, MODE_CHANGED, MODEL_ROUTING_DECISION,
TOKEN_USAGE), so a replay shows what the live session showed. A burst of records asks
for one redraw: queued redraw requests replace each other (`can_replace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from sage_tui.core.log.events import ROLES, EventName
from sage_tui.ui.records import Handler, Record, data_of

SEP = (" │ ", "dim")


def context_colour(fraction: float) -> str:
    """green under 60 %, amber under 85 %, red above."""
    if fraction >= 0.85:
        return "$error"
    if fraction >= 0.60:
        return "$warning"
    return "$success"


@dataclass
class RoleState:
    model: str = "-"
    num_ctx: int = 0
    last_prompt: int = 0


@dataclass
class StatusState:
    """What the line shows, as the records have told it."""

    mode: str = ""
    label: str = ""
    session_id: str = ""
    trace_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    roles: dict[str, RoleState] = field(default_factory=lambda: {r: RoleState() for r in ROLES})


class StatusBar(Static):
    """The session at a glance; fed by records like every pane."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    class Redraw(Message):
        """Draw the line again; a queued one makes an earlier one redundant."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, StatusBar.Redraw)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = StatusState()

    def record_handlers(self) -> Mapping[EventName, Handler]:
        return {EventName.SESSION_STARTED: self._started, EventName.SESSION_RESUMED: self._started,
                EventName.MODE_CHANGED: self._mode,
                EventName.MODEL_ROUTING_DECISION: self._routed,
                EventName.TOKEN_USAGE: self._usage}

    def _ids(self, record: Record) -> None:
        self.state.session_id = str(record.get("session_id") or self.state.session_id)
        self.state.trace_id = record.get("trace_id") or self.state.trace_id

    def _started(self, record: Record) -> None:
        data = data_of(record)
        self._ids(record)
        self.state.mode = str(data.get("mode") or "")
        self.state.label = str(data.get("backend") or "")
        models = data.get("models")
        for role, model in (models.items() if isinstance(models, dict) else ()):
            known = self.state.roles.get(role)
            if role in self.state.roles and (known is None or known.model != str(model)):
                self.state.roles[role] = RoleState(str(model))  # a continued one keeps its use
        self.post_message(self.Redraw())

    def _mode(self, record: Record) -> None:
        self.state.mode = str(data_of(record).get("to") or self.state.mode)
        self.post_message(self.Redraw())

    def _routed(self, record: Record) -> None:
        data = data_of(record)
        role = self.state.roles.setdefault(str(data.get("role")), RoleState())
        model, num_ctx = str(data.get("model") or "-"), int(data.get("num_ctx") or 0)
        if (role.model, role.num_ctx) != (model, num_ctx):  # a fallback starts afresh
            role.model, role.num_ctx, role.last_prompt = model, num_ctx, 0
        self.post_message(self.Redraw())

    def _usage(self, record: Record) -> None:
        data = data_of(record)
        self._ids(record)
        role = self.state.roles.setdefault(str(data.get("role")), RoleState())
        role.num_ctx = int(data.get("num_ctx") or role.num_ctx)
        if data.get("prompt_tokens"):
            role.last_prompt = int(data["prompt_tokens"])
        totals = data.get("session")
        if isinstance(totals, dict):
            self.state.prompt_tokens = int(totals.get("prompt_tokens") or 0)
            self.state.completion_tokens = int(totals.get("completion_tokens") or 0)
            self.state.estimated = bool(totals.get("estimated"))
        self.post_message(self.Redraw())

    def on_status_bar_redraw(self, message: Redraw) -> None:
        self.draw()

    def draw(self) -> None:
        state = self.state
        mark = "~" if state.estimated else ""
        parts: list[str | tuple[str, str]] = [(state.mode or "-", "bold"), SEP,
                                              f"tokens {mark}{state.prompt_tokens:,}/"
                                              f"{mark}{state.completion_tokens:,}"]
        by_model: dict[str, list[tuple[str, float | None]]] = {}
        for name, role in state.roles.items():
            fraction = role.last_prompt / role.num_ctx if role.last_prompt and role.num_ctx \
                else None
            by_model.setdefault(role.model, []).append((name, fraction))
        for model, roles in by_model.items():
            parts += [SEP, f"{model}:"]
            for name, fraction in roles:
                parts.append(f" {name} ")
                parts.append((f"{fraction:.0%}", context_colour(fraction)) if fraction is not None
                             else ("-", "dim"))
        if state.label:
            parts += [SEP, state.label]
        if state.session_id:
            parts += [SEP, f"session {state.session_id}"]
        if state.trace_id:
            parts.append(f" trace {state.trace_id[:12]}")
        self.update(Content.assemble(*parts))
