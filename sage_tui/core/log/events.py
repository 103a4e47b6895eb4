"""The one vocabulary of the system: event names and their payloads (DESIGN.md §3).

Every part of SAGE reports what it does by emitting an `Event` into a sink
(`Callable[[Event], None]`). The session log, the terminal UI, the headless runner
and the tests are all subscribers of that sink, so they see exactly the same facts.

Names never change; payload fields may grow. Each payload is a `TypedDict` whose
required keys are the minimum a subscriber may rely on; `REQUIRED_FIELDS` lists them
so `validate` can check a payload without importing any subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict, get_origin, get_type_hints


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


Mode = Literal["research", "auto", "silent"]
Role = Literal["router", "planner", "coder", "reviewer", "summarizer"]
Route = Literal["qa", "code", "summarize", "memory", "review", "admin"]
RouteSource = Literal["llm", "fast_path", "fail_safe"]
ModelReason = Literal["config", "profile", "force", "fallback", "user"]
UsageSource = Literal["ollama", "openai", "estimate"]  # who counted: a server, or SAGE
ToolErrorKind = Literal[
    "timeout", "validation_error", "not_found", "permission_denied", "execution_error"
]
Verdict = Literal["allow", "ask", "deny"]
CheckpointKind = Literal["plan", "patch", "tool"]
CheckpointDecision = Literal["approve", "approve_session", "reject", "edit", "respond", "defer"]
HunkVerdict = Literal["approve", "reject", "edit", "comment", "undo"]

MODES: tuple[Mode, ...] = ("research", "auto", "silent")
ROLES: tuple[Role, ...] = ("router", "planner", "coder", "reviewer", "summarizer")
ROUTES: tuple[Route, ...] = ("qa", "code", "summarize", "memory", "review", "admin")


class _Totals(TypedDict):
    prompt_tokens: int
    completion_tokens: int


class TokenTotals(_Totals, total=False):
    """Session-wide token counters carried by TOKEN_USAGE and SESSION_ENDED."""

    estimated: bool


class SessionStarted(TypedDict):
    workspace: str
    mode: Mode
    profile: str | None
    version: str
    backend: NotRequired[str]  # the model server's label ("ollama", "scripted model")
    models: NotRequired[dict[str, str]]  # role → model at the start
    command: NotRequired[str]  # a session of `sage apply` or `sage review`


class SessionResumed(SessionStarted):
    """A session continued from its log (`sage --continue`, `sage resume`)."""

    turns: int  # turns so far: the next one is turns + 1
    messages: int  # transcript messages restored
    waiting: list[str]  # patches waiting for the person, restored with their decisions
    from_seq: int  # the first record written by this continuation


class SessionEnded(TypedDict):
    status: str  # ok, failed, cancelled or error
    turns: int
    tokens: TokenTotals


class Message(TypedDict):
    """USER_MESSAGE and ASSISTANT_MESSAGE."""

    text: str
    role: str
    model: NotRequired[str]


class RouteDecision(TypedDict):
    route: str  # one of ROUTES
    experts: list[str]
    reasoning: str
    source: str  # one of RouteSource
    latency_ms: float
    fast_path: NotRequired[str]  # the status question answered without a model
    fail_safe_reason: NotRequired[str]


class ExpertPacket(TypedDict):
    expert: str
    chars: int
    evidence: bool
    citations: list[str]
    text: str  # what the model was given (redacted in the log like everything else)
    health: NotRequired[dict[str, Any]]  # retrieval: the index's state


class ModelRoutingDecision(TypedDict):
    role: str  # one of ROLES
    model: str
    host: str
    reason: ModelReason
    call_id: NotRequired[str]  # pairs the three events of one model call
    num_ctx: NotRequired[int]
    instead_of: NotRequired[str]  # a fallback: the model that was not pulled


class ContextClamped(TypedDict):
    role: str
    budget: int
    before: int
    after: int
    dropped: list[str]
    call_id: NotRequired[str]
    max_chars: NotRequired[int]
    chars_before: NotRequired[int]
    chars_after: NotRequired[int]
    overflow: NotRequired[bool]
    warning: NotRequired[str]


class TokenUsage(TypedDict):
    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    source: UsageSource
    session: TokenTotals
    call_id: NotRequired[str]
    prompt_estimate: NotRequired[int]
    estimator: NotRequired[str]
    num_ctx: NotRequired[int]
    failed: NotRequired[str]  # the call failed: why


class ToolCall(TypedDict):
    tool: str
    args: dict[str, Any]
    call_id: str
    by: NotRequired[str]  # "person": typed as `!cmd` in the prompt


class ToolResult(TypedDict):
    tool: str
    call_id: str
    ok: bool
    summary: str
    ms: float
    patch_id: NotRequired[str]  # propose_patch
    exit_code: NotRequired[int]  # run_command, run_tests


class ToolError(TypedDict):
    tool: str
    call_id: str
    kind: str  # one of ToolErrorKind
    message: str
    suggestion: str
    attempt: int


class PolicyDecision(TypedDict):
    tool: str
    target: str
    verdict: str  # one of Verdict
    rule: str


class PlanCreated(TypedDict):
    steps: list[str]
    path: str | None


class CheckpointReached(TypedDict):
    checkpoint: CheckpointKind
    mode: str  # one of MODES
    blocking: bool
    skipped: bool
    title: NotRequired[str]
    patch_id: NotRequired[str]  # a patch checkpoint
    tool: NotRequired[str]  # a tool checkpoint, with its target
    target: NotRequired[str]


class CheckpointResolved(TypedDict):
    checkpoint: CheckpointKind
    decision: str  # one of CheckpointDecision
    comment: str | None
    by: NotRequired[str | None]  # person, <mode> mode, no one at the terminal
    steps: NotRequired[list[str]]  # an edited plan
    patch_id: NotRequired[str]
    tool: NotRequired[str]
    target: NotRequired[str]


class PatchProposed(TypedDict):
    patch_id: str
    files: list[str]
    hunks: int
    description: NotRequired[str]
    source: NotRequired[str]  # the file `sage apply` or `sage review` read
    diff: NotRequired[str]  # up to 200,000 characters, for review and replay


class HunkDecision(TypedDict):
    patch_id: str
    hunk_id: str
    hunk_sha: str
    decision: HunkVerdict
    comment: str | None
    path: NotRequired[str]


class _Outcome(TypedDict):
    patch_id: str
    files: list[str]
    hunks: list[dict[str, Any]]


class PatchOutcome(_Outcome, total=False):
    """PATCH_APPLIED, PATCH_FAILED and PATCH_REVERTED (`reason` when it failed)."""

    reason: str
    undo_id: str | None
    redone: bool  # PATCH_APPLIED by a redo


class TestRun(TypedDict):
    command: str
    exit_code: int
    passed: int
    failed: int
    ms: float


class ErrorPayload(TypedDict):
    where: str
    kind: str
    message: str


ModeChange = TypedDict("ModeChange", {"from": Mode, "to": Mode, "by": str})


class TurnCancelled(TypedDict):
    turn: int
    by: str


class PromptRedacted(TypedDict):
    call_id: str
    role: str
    model: str
    host: str
    messages: int  # how many messages of the prompt had something redacted
    setting: str  # redact_prompts: auto or always


class SummaryUpdated(TypedDict):
    """The rolling summary after the summarizer folded older messages into it."""

    text: str
    absorbed: int  # transcript messages folded in so far


class ConversationCleared(TypedDict):
    by: str
    messages: int  # transcript messages set aside (they stay in the log)


class ContextChanged(TypedDict):
    """The files pinned into every prompt (`@path`, `/add`, `/drop`), as they are now."""

    pinned: list[str]  # path, or path:first-last
    by: str


class CommitCreated(TypedDict):
    sha: str
    message: str
    files: list[str]
    by: str  # person, <mode> mode
    patches: NotRequired[list[str]]  # the applied patches it holds
    reverts: NotRequired[str]  # a `git revert` of this commit


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
}

def _required(payload: type) -> frozenset[str]:
    """The fields a payload must have (`NotRequired` ones and `total=False` ones excepted)."""
    hints = get_type_hints(payload, include_extras=True)
    return frozenset(k for k in payload.__required_keys__  # type: ignore[attr-defined]
                     if get_origin(hints.get(k)) is not NotRequired)


REQUIRED_FIELDS: dict[EventName, frozenset[str]] = {
    name: _required(payload) for name, payload in PAYLOADS.items()
}

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
