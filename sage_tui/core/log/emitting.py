"""Typed emitting: each event's payload is checked by mypy against its `TypedDict`.

`emitter(sink)` returns an `Emit`, one overload per event, so
`emit(EventName.TOOL_CALL, {"tool": ..., "args": ..., "call_id": ...})` is checked field by
field (a missing or misspelt field, or a payload given to the wrong event, fails `mypy`),
and at run time it is the same `Event` the sink always received.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, cast, overload

from sage_tui.core.log.events import (
    CheckpointReached,
    CheckpointResolved,
    CommitCreated,
    ContextChanged,
    ContextClamped,
    ConversationCleared,
    ErrorPayload,
    Event,
    EventName,
    ExpertPacket,
    HunkDecision,
    IndexProgress,
    Message,
    ModeChange,
    ModelRoutingDecision,
    PatchOutcome,
    PatchProposed,
    PlanCreated,
    PolicyDecision,
    PromptRedacted,
    RouteDecision,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    Sink,
    SummaryUpdated,
    TestRun,
    TokenUsage,
    ToolCall,
    ToolError,
    ToolResult,
    TurnCancelled,
)


class Emit(Protocol):
    """Emit one event; the payload type follows the event name."""

    @overload
    def __call__(self, name: Literal[EventName.SESSION_STARTED], data: SessionStarted,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.SESSION_ENDED], data: SessionEnded,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.USER_MESSAGE], data: Message,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.ASSISTANT_MESSAGE], data: Message,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.ROUTE_DECISION], data: RouteDecision,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.EXPERT_PACKET], data: ExpertPacket,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.MODEL_ROUTING_DECISION], data: ModelRoutingDecision,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.CONTEXT_CLAMPED], data: ContextClamped,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TOKEN_USAGE], data: TokenUsage,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TOOL_CALL], data: ToolCall,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TOOL_RESULT], data: ToolResult,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TOOL_ERROR], data: ToolError,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.POLICY_DECISION], data: PolicyDecision,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PLAN_CREATED], data: PlanCreated,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.HUMAN_CHECKPOINT_REACHED], data: CheckpointReached,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.CHECKPOINT_RESOLVED], data: CheckpointResolved,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PATCH_PROPOSED], data: PatchProposed,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.HUNK_DECISION], data: HunkDecision,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PATCH_APPLIED], data: PatchOutcome,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PATCH_FAILED], data: PatchOutcome,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PATCH_REVERTED], data: PatchOutcome,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TEST_RUN], data: TestRun,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.ERROR], data: ErrorPayload,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.MODE_CHANGED], data: ModeChange,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.TURN_CANCELLED], data: TurnCancelled,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.PROMPT_REDACTED], data: PromptRedacted,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.SESSION_RESUMED], data: SessionResumed,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.SUMMARY_UPDATED], data: SummaryUpdated,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.CONVERSATION_CLEARED], data: ConversationCleared,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.COMMIT_CREATED], data: CommitCreated,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.CONTEXT_CHANGED], data: ContextChanged,
                 turn: int | None = None) -> None: ...
    @overload
    def __call__(self, name: Literal[EventName.INDEX_PROGRESS], data: IndexProgress,
                 turn: int | None = None) -> None: ...



def emitter(sink: Sink) -> Emit:
    """An `Emit` that hands each event to `sink`."""

    def emit(name: EventName, data: Any, turn: int | None = None) -> None:
        sink(Event(name, data, turn))

    return cast(Emit, emit)
