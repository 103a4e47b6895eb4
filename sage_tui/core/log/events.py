"""The one vocabulary of the system: event names and their payloads (DESIGN.md §3).

Every part of SAGE reports what it does by emitting an `Event` into a sink
(`Callable[[Event], None]`). The session log, the terminal UI, the headless runner
and the tests are all subscribers of that sink, so they see exactly the same facts.

Names never change; payload fields may grow. Each payload is a `TypedDict`
(`payloads.py`, re-exported here) whose required keys are the minimum a subscriber may
rely on; `REQUIRED_FIELDS` lists them so `validate` can check a payload without
importing any subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, NotRequired, get_origin, get_type_hints

from sage_tui.core.log.payloads import (
    MODES,
    ROLES,
    ROUTES,
    CheckpointDecision,
    CheckpointKind,
    CheckpointReached,
    CheckpointResolved,
    CommitCreated,
    ContextChanged,
    ContextClamped,
    ConversationCleared,
    ErrorPayload,
    Estimator,
    ExpertPacket,
    HunkDecision,
    HunkVerdict,
    IndexProgress,
    Message,
    Mode,
    ModeChange,
    ModelReason,
    ModelRoutingDecision,
    PatchOutcome,
    PatchProposed,
    PlanCreated,
    PolicyDecision,
    PromptRedacted,
    Role,
    Route,
    RouteDecision,
    RouteSource,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    SummaryUpdated,
    TestRun,
    TokenTotals,
    TokenUsage,
    ToolCall,
    ToolError,
    ToolErrorKind,
    ToolResult,
    TurnCancelled,
    UsageSource,
    Verdict,
)


class EventName(StrEnum):
    """Every event the system emits. The string value is what the log stores."""

    SESSION_STARTED = "SESSION_STARTED"
    SESSION_ENDED = "SESSION_ENDED"
    USER_MESSAGE = "USER_MESSAGE"
    ASSISTANT_MESSAGE = "ASSISTANT_MESSAGE"
    ROUTE_DECISION = "ROUTE_DECISION"
    EXPERT_PACKET = "EXPERT_PACKET"
    MODEL_ROUTING_DECISION = "MODEL_ROUTING_DECISION"
    CONTEXT_CLAMPED = "CONTEXT_CLAMPED"
    TOKEN_USAGE = "TOKEN_USAGE"
    TOOL_CALL = "TOOL_CALL"
    TOOL_RESULT = "TOOL_RESULT"
    TOOL_ERROR = "TOOL_ERROR"
    POLICY_DECISION = "POLICY_DECISION"
    PLAN_CREATED = "PLAN_CREATED"
    HUMAN_CHECKPOINT_REACHED = "HUMAN_CHECKPOINT_REACHED"
    CHECKPOINT_RESOLVED = "CHECKPOINT_RESOLVED"
    PATCH_PROPOSED = "PATCH_PROPOSED"
    HUNK_DECISION = "HUNK_DECISION"
    PATCH_APPLIED = "PATCH_APPLIED"
    PATCH_FAILED = "PATCH_FAILED"
    PATCH_REVERTED = "PATCH_REVERTED"
    TEST_RUN = "TEST_RUN"
    ERROR = "ERROR"
    MODE_CHANGED = "MODE_CHANGED"
    TURN_CANCELLED = "TURN_CANCELLED"
    PROMPT_REDACTED = "PROMPT_REDACTED"
    SESSION_RESUMED = "SESSION_RESUMED"
    SUMMARY_UPDATED = "SUMMARY_UPDATED"
    CONVERSATION_CLEARED = "CONVERSATION_CLEARED"
    COMMIT_CREATED = "COMMIT_CREATED"
    CONTEXT_CHANGED = "CONTEXT_CHANGED"
    INDEX_PROGRESS = "INDEX_PROGRESS"


PAYLOADS: dict[EventName, type] = {
    EventName.SESSION_STARTED: SessionStarted,
    EventName.SESSION_ENDED: SessionEnded,
    EventName.USER_MESSAGE: Message,
    EventName.ASSISTANT_MESSAGE: Message,
    EventName.ROUTE_DECISION: RouteDecision,
    EventName.EXPERT_PACKET: ExpertPacket,
    EventName.MODEL_ROUTING_DECISION: ModelRoutingDecision,
    EventName.CONTEXT_CLAMPED: ContextClamped,
    EventName.TOKEN_USAGE: TokenUsage,
    EventName.TOOL_CALL: ToolCall,
    EventName.TOOL_RESULT: ToolResult,
    EventName.TOOL_ERROR: ToolError,
    EventName.POLICY_DECISION: PolicyDecision,
    EventName.PLAN_CREATED: PlanCreated,
    EventName.HUMAN_CHECKPOINT_REACHED: CheckpointReached,
    EventName.CHECKPOINT_RESOLVED: CheckpointResolved,
    EventName.PATCH_PROPOSED: PatchProposed,
    EventName.HUNK_DECISION: HunkDecision,
    EventName.PATCH_APPLIED: PatchOutcome,
    EventName.PATCH_FAILED: PatchOutcome,
    EventName.PATCH_REVERTED: PatchOutcome,
    EventName.TEST_RUN: TestRun,
    EventName.ERROR: ErrorPayload,
    EventName.MODE_CHANGED: ModeChange,
    EventName.TURN_CANCELLED: TurnCancelled,
    EventName.PROMPT_REDACTED: PromptRedacted,
    EventName.SESSION_RESUMED: SessionResumed,
    EventName.SUMMARY_UPDATED: SummaryUpdated,
    EventName.CONVERSATION_CLEARED: ConversationCleared,
    EventName.COMMIT_CREATED: CommitCreated,
    EventName.CONTEXT_CHANGED: ContextChanged,
    EventName.INDEX_PROGRESS: IndexProgress,
}

def _required(payload: type) -> frozenset[str]:
    """The fields a payload must have (`NotRequired` ones and `total=False` ones excepted)."""
    hints = get_type_hints(payload, include_extras=True)
    return frozenset(k for k in payload.__required_keys__  # type: ignore[attr-defined]
                     if get_origin(hints.get(k)) is not NotRequired)


class _RequiredFields(Mapping[EventName, frozenset[str]]):
    """Each event's required fields, worked out from the payload types on first use (type
    hints are slow to resolve, and most commands never validate a payload)."""

    @cached_property
    def _table(self) -> dict[EventName, frozenset[str]]:
        return {name: _required(payload) for name, payload in PAYLOADS.items()}

    def __getitem__(self, name: EventName) -> frozenset[str]:
        return self._table[name]

    def __iter__(self) -> Iterator[EventName]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


REQUIRED_FIELDS: Mapping[EventName, frozenset[str]] = _RequiredFields()

# Records after which the log fsyncs: a human decision, a change to the working
# tree, or the end of a session must survive a power cut, not just a crash.
COMMIT_EVENTS: frozenset[str] = frozenset({
    EventName.CHECKPOINT_RESOLVED,
    EventName.MODE_CHANGED,
    EventName.TURN_CANCELLED,
    EventName.HUNK_DECISION,
    EventName.PATCH_APPLIED,
    EventName.PATCH_FAILED,
    EventName.PATCH_REVERTED,
    EventName.SESSION_ENDED,
    EventName.CONVERSATION_CLEARED,
    EventName.COMMIT_CREATED,
})

EVENT_NAMES: frozenset[str] = frozenset(EventName)


@dataclass(frozen=True)
class Event:
    """One fact reported by the core: a name, its payload, and the turn it belongs to."""

    name: EventName
    data: Mapping[str, Any] = field(default_factory=dict)
    turn: int | None = None


Sink = Callable[[Event], None]
# An event as the recorder stamped it and the log holds it (the recorder makes them):
# {"v","seq","ts","session_id","trace_id","turn","event","data"}. Here rather than in the
# recorder so readers of records (the workbench's panes) need not load the redactor.
Record = dict[str, Any]


def validate(name: str, data: Mapping[str, Any]) -> list[str]:
    """Check a payload against the vocabulary.

    Returns:
        A list of problems, empty when the event is known and carries every
        required field. Extra fields are allowed: payloads may grow.
    """
    if name not in EVENT_NAMES:
        return [f"unknown event {name!r}"]
    missing = REQUIRED_FIELDS[EventName(name)] - data.keys()
    return [f"{name} lacks field {key!r}" for key in sorted(missing)]

__all__ = [
    "COMMIT_EVENTS",
    "EVENT_NAMES",
    "MODES",
    "PAYLOADS",
    "REQUIRED_FIELDS",
    "ROLES",
    "ROUTES",
    "CheckpointDecision",
    "CheckpointKind",
    "CheckpointReached",
    "CheckpointResolved",
    "CommitCreated",
    "ContextChanged",
    "ContextClamped",
    "ConversationCleared",
    "ErrorPayload",
    "Estimator",
    "Event",
    "EventName",
    "ExpertPacket",
    "HunkDecision",
    "HunkVerdict",
    "IndexProgress",
    "Message",
    "Mode",
    "ModeChange",
    "ModelReason",
    "ModelRoutingDecision",
    "PatchOutcome",
    "PatchProposed",
    "PlanCreated",
    "PolicyDecision",
    "PromptRedacted",
    "Record",
    "Role",
    "Route",
    "RouteDecision",
    "RouteSource",
    "SessionEnded",
    "SessionResumed",
    "SessionStarted",
    "Sink",
    "SummaryUpdated",
    "TestRun",
    "TokenTotals",
    "TokenUsage",
    "ToolCall",
    "ToolError",
    "ToolErrorKind",
    "ToolResult",
    "TurnCancelled",
    "UsageSource",
    "Verdict",
    "validate",
]
