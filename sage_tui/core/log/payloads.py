"""The payload of each event, and the closed vocabularies they use (DESIGN.md §3).

Each payload is a `TypedDict` whose required keys are the minimum a subscriber may rely
on; `NotRequired` keys are extras. `events.py` maps every `EventName` to its payload and
re-exports everything here, so callers import from `events`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Mode = Literal["research", "auto", "silent"]
Role = Literal["router", "planner", "coder", "reviewer", "summarizer"]
Route = Literal["qa", "code", "summarize", "memory", "review", "admin"]
RouteSource = Literal["llm", "fast_path", "fail_safe"]
ModelReason = Literal["config", "profile", "force", "fallback", "user"]
UsageSource = Literal["ollama", "openai", "estimate"]  # who counted: a server, or SAGE
# How SAGE counted the prompt before the call (`prompt_estimate`): the server's tokenizer,
# an estimate calibrated by the server's earlier counts, or the plain estimate. Logs
# written by earlier versions may also say "tiktoken".
Estimator = Literal["server", "calibrated", "heuristic"]
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
    estimator: NotRequired[Estimator]
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


class IndexProgress(TypedDict):
    """The retrieval index is reading files (a first build, or many changed files)."""

    done: int
    total: int  # files to read in this refresh


class CommitCreated(TypedDict):
    sha: str
    message: str
    files: list[str]
    by: str  # person, <mode> mode
    patches: NotRequired[list[str]]  # the applied patches it holds
    reverts: NotRequired[str]  # a `git revert` of this commit
