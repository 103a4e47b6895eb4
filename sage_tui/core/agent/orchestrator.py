"""The orchestrator: one user message in, events and an answer out.

A turn: USER_MESSAGE → route (ROUTE_DECISION) → experts (EXPERT_PACKET) → the
answering role's model call (its routing, clamp and usage events) →
ASSISTANT_MESSAGE. Afterwards, in the background, the summarizer role updates the
project memory and the rolling summary. A failed model call ends the turn with an
ERROR event carrying the sentence the user sees; nothing raises out of `run_turn`
except cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_tui import __version__
from sage_tui.core.agent.codeflow import CodeFlow
from sage_tui.core.agent.experts import Experts, RollingSummary
from sage_tui.core.agent.prompts import ANSWER_SYSTEM
from sage_tui.core.agent.resume import History
from sage_tui.core.agent.router import MessageRouter, Route
from sage_tui.core.errors import SageError
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.types import Message
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import ROLES, ErrorPayload, EventName, Mode, Sink

BACKGROUND_TIMEOUT = 120.0

ANSWER_ROLE = {"qa": "coder", "code": "coder", "summarize": "summarizer",
               "memory": "summarizer", "review": "reviewer", "admin": "summarizer"}


HELP_TEXT = """SAGE answers questions about your code, and (with the agent loop) plans and
proposes patches you approve hunk by hunk. Things it answers at once, without a model:
which models it uses, how many tokens this session used, the current mode, and this help.
Modes: research stops at every checkpoint; auto proceeds and logs; silent prints only results.
Every step is in the session log: `sage trace` shows it."""


@dataclass
class TurnResult:
    """How a turn ended."""

    status: str  # "ok", "failed", "rejected" (a person stopped it), "waiting" (a patch
    # waits in the queue for the person) or "cancelled"
    answer: str = ""
    route: Route | None = None
    error: SageError | None = None


@dataclass
class Orchestrator:
    """Runs turns for one session. Construct it through `sage_tui.factory`."""

    workspace: Path
    llm: LLMClient
    experts: Experts
    sink: Sink
    mode: Mode = "research"
    profile: str | None = None
    backend_label: str = "ollama"
    remember: bool = True
    code: CodeFlow | None = None
    turn_timeout: float = 600.0  # wall-clock seconds one turn may take (SAGE_TURN_TIMEOUT)
    notices: list[ErrorPayload] = field(default_factory=list)  # ERRORs to log at the start
    turn: int = 0
    transcript: list[Message] = field(default_factory=list)
    resumed: History | None = None  # the log this session continues, once `restore` ran
    wanted_mode: Mode | None = None  # `--mode` given when continuing: switched to at start
    session_id: str = ""  # for the trailer of the commits SAGE makes
    commit_setting: str = "ask"  # off, ask (the workbench offers), auto (after a green turn)
    last_change: tuple[str, str] | None = None  # the latest code turn: request, summary
    shell_calls: int = 0  # `!cmd` calls so far (their call ids: person-N)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.router = MessageRouter(self.llm)  # the client's read timeout

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    def start(self) -> None:
        """Announce the session: SESSION_STARTED, or SESSION_RESUMED for one continued."""
        models: dict[str, str] = {role: self.llm.router.primary(role).model for role in ROLES}
        history = self.resumed
        if history is None:
            self._emit(EventName.SESSION_STARTED, {
                "workspace": str(self.workspace), "mode": self.mode, "profile": self.profile,
                "version": __version__, "backend": self.backend_label, "models": models},
                turn=0)
        else:
            self._emit(EventName.SESSION_RESUMED, {
                "workspace": str(self.workspace), "mode": self.mode, "profile": self.profile,
                "version": __version__, "backend": self.backend_label, "models": models,
                "turns": self.turn, "messages": len(self.transcript), "waiting": self.waiting,
                "from_seq": history.last_seq + 1}, turn=self.turn)
            for sentence in history.lost:
                self._emit(EventName.ERROR, {"where": "resume", "kind": "patch_not_restored",
                                             "message": sentence})
            if self.wanted_mode is not None:  # asked for on the command line: the person's
                self.set_mode(self.wanted_mode)
        for notice in self.notices:  # set-up problems that do not stop the session
            self._emit(EventName.ERROR, notice)

    def restore(self, history: History) -> None:
        """Continue from a session's log: turn numbers, transcript, rolling summary, token
        totals, mode, models picked with /model, and the patches that wait. Emits nothing;
        `start` then announces SESSION_RESUMED."""
        from sage_tui.core.patch.review import recorded_review

        self.resumed = history
        self.turn = history.turn
        self.transcript = list(history.transcript)
        self.last_change = history.last_change
        self.experts.summary.text, self.experts.summary.absorbed = history.summary, history.absorbed
        ledger = self.llm.ledger
        for usage in history.usage:
            ledger.record(str(usage.get("role")), str(usage.get("model")),
                          int(usage.get("num_ctx") or 0), int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0),
                          usage.get("source") == "estimate")
        for role, model in history.chosen_models.items():
            if role in ROLES:
                self.llm.router.choose(role, model)
        if history.mode is not None and (history.mode == "research" or self.mode != "research"):
            self.mode = history.mode
            if self.code is not None:
                self.code.mode = history.mode
        elif history.mode is not None:  # never fewer checkpoints than this start-up asks for
            self.notices.append({"where": "resume", "kind": "mode_not_restored", "message":
                                 f"The session was left in {history.mode} mode; it continues in "
                                 f"{self.mode}, as configured (/mode {history.mode} switches)."})
        self.llm.skip_call_ids(history.counters.get("llm", 0))  # ids stay unique in the log
        self.shell_calls = history.counters.get("person", 0)
        if self.code is not None:
            self.code.tool_context.patch_ids.update(history.patch_ids)
            self.code.gate.landed.update(history.landed)
            self.code.gate.committed.update(history.committed)
            for pending in history.waiting.values():
                review = recorded_review(pending.diff, pending.patch_id, pending.decided)
                review.comments = {h: list(c) for h, c in pending.comments.items()}
                self.code.gate.waiting[pending.patch_id] = review
        self.experts.restore_pins(history.pinned)

    def clear(self) -> int:
        """A new conversation in the same session (`/clear`): the transcript and the rolling
        summary start afresh (CONVERSATION_CLEARED); the log keeps everything. Returns how
        many messages were set aside."""
        dropped = len(self.transcript)
        self.transcript = []
        self.experts.summary = RollingSummary()  # an update still running keeps to the old one
        self._emit(EventName.CONVERSATION_CLEARED, {"by": "person", "messages": dropped})
        return dropped

    async def run_turn(self, text: str, on_delta: Callable[[str], None] | None = None
                       ) -> TurnResult:
        """Handle one user message; stream the answer's text to `on_delta`."""
        self.turn += 1
        self.llm.new_turn()
        self.experts.pin(text)  # @path mentions stay in the context until /drop
        self._emit(EventName.USER_MESSAGE, {"text": text, "role": "user"}, turn=self.turn)
        try:
            async with asyncio.timeout(self.turn_timeout) as deadline:
                if self.code is not None:  # a person's time at a checkpoint is not the turn's
                    self.code.checkpoints.deadline = deadline
                return await self._turn(text, on_delta)
        except asyncio.CancelledError:  # Stop, ctrl+c: the log says so, then it unwinds
            self._emit(EventName.TURN_CANCELLED, {"turn": self.turn, "by": "person"})
            raise
        except TimeoutError:
            error = SageError(f"The turn took longer than {self.turn_timeout:g} s and was "
                              "stopped; ask for less at once, or raise SAGE_TURN_TIMEOUT "
                              "(turn_timeout in config.toml).")
            self._emit(EventName.ERROR, {"where": "turn", "kind": "turn_timeout",
                                         "message": str(error)})
            return TurnResult("failed", error=error)
        finally:
            if self.code is not None:
                self.code.checkpoints.deadline = None

    @property
    def waiting(self) -> list[str]:
        """The ids of the patches that wait in the queue for the person."""
        return list(self.code.gate.waiting) if self.code is not None else []

    async def review_waiting(self, patch_id: str) -> TurnResult:
        """Reopen a waiting patch (its checkpoint again, with the decisions made so far); what
        SAGE says about it is an ASSISTANT_MESSAGE from SAGE itself."""
        if self.code is None:
            raise SageError("This session has no code route, so no patch can wait in it.")
        try:
            outcome = await self.code.review_waiting(patch_id)
        except SageError as exc:
            self._emit(EventName.ERROR, {"where": "review", "kind": "not_waiting",
                                         "message": str(exc)})
            return TurnResult("failed", error=exc)
        self._emit(EventName.ASSISTANT_MESSAGE, {"text": outcome.answer, "role": "sage"})
        if outcome.status == "failed":
            return TurnResult("failed", outcome.answer, error=SageError(outcome.answer))
        if outcome.status == "ok":
            await self._auto_commit()
        return TurnResult(outcome.status, outcome.answer)

    async def _turn(self, text: str, on_delta: Callable[[str], None] | None) -> TurnResult:
        route = await self.router.route(self.transcript, text)
        self._emit(EventName.ROUTE_DECISION, route.event())
        if route.fast_path is not None:
            answer = self.fast_answer(route.fast_path)
            if on_delta is not None:
                on_delta(answer)
            self._emit(EventName.ASSISTANT_MESSAGE, {"text": answer, "role": "sage"})
            return TurnResult("ok", answer, route)
        role = ANSWER_ROLE[route.route]
        if route.route == "code" and self.code is not None:
            return await self._code_turn(text, route, on_delta)
        try:
            packets = await self.experts.gather(route.experts, text, route.route)
            parts = PromptParts(
                system=ANSWER_SYSTEM[route.route], current=text,
                packets=[p for p in packets if p.expert != "summarizer"],
                summary=self.experts.summary.text,
                transcript=self.transcript[self.experts.summary.absorbed:])
            result = await self.llm.call(role, parts, on_delta=on_delta)
        except SageError as exc:
            self._emit(EventName.ERROR, {"where": role, "kind": getattr(exc, "kind", "error"),
                                         "message": str(exc)})
            return TurnResult("failed", route=route, error=exc)
        answer = result.content.strip()
        self._emit(EventName.ASSISTANT_MESSAGE, {"text": answer, "role": role,
                                                 "model": result.choice.model})
        exchange = [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]
        self.transcript.extend(exchange)
        if self.remember:
            self._spawn(self._after_reply(exchange))
        return TurnResult("ok", answer, route)

    async def _code_turn(self, text: str, route: Route,
                         on_delta: Callable[[str], None] | None) -> TurnResult:
        assert self.code is not None
        try:
            packets = await self.experts.gather(route.experts, text, route.route)
            outcome = await self.code.run(
                text, [p for p in packets if p.expert != "summarizer"], self.experts.summary.text,
                self.transcript[self.experts.summary.absorbed:], on_delta)
        except SageError as exc:
            self._emit(EventName.ERROR, {"where": "code", "kind": getattr(exc, "kind", "error"),
                                         "message": str(exc)})
            return TurnResult("failed", route=route, error=exc)
        self._emit(EventName.ASSISTANT_MESSAGE, {"text": outcome.answer, "role": "reviewer"})
        exchange = [{"role": "user", "content": text},
                    {"role": "assistant", "content": outcome.answer}]
        self.transcript.extend(exchange)
        if outcome.status == "failed":
            error = SageError(f"The task did not complete: {outcome.reason}.")
            self._emit(EventName.ERROR, {"where": "code", "kind": "task_failed",
                                         "message": str(error)})
            return TurnResult("failed", outcome.answer, route, error)
        self.last_change = (text, outcome.answer)
        if outcome.status == "ok":
            await self._auto_commit()
        if self.remember:
            self._spawn(self._after_reply(exchange))
        return TurnResult(outcome.status, outcome.answer, route)

    async def _auto_commit(self) -> None:
        """The `commit` setting `auto`: commit what landed after a turn that went green."""
        if self.commit_setting != "auto" or not self.uncommitted:
            return
        try:
            await self.commit(by="auto setting")
        except SageError as exc:
            self._emit(EventName.ERROR, {"where": "commit", "kind": "commit_failed",
                                         "message": str(exc)})

    @property
    def uncommitted(self) -> list[str]:
        """The files SAGE applied changes to and has not committed yet."""
        landed = self.code.gate.landed.values() if self.code is not None else ()
        return sorted({path for paths in landed for path in paths})

    def suggested_commit(self) -> str:
        """A commit message from the latest change's request and the reviewer's summary."""
        from sage_tui.core.log.safetext import shown
        from sage_tui.core.workspace.commits import suggested_message

        task, summary = self.last_change or ("", "")
        return shown(suggested_message(task, summary))  # into git history: as the log has it

    async def commit(self, message: str | None = None, *, by: str = "person",
                     files: list[str] | None = None, reverts: str | None = None) -> Any:
        """Commit SAGE's uncommitted changes (COMMIT_CREATED); see `PatchGate.commit`."""
        if self.code is None:
            raise SageError("This session has no code route, so it has nothing to commit.")
        return await self.code.gate.commit(
            message or self.suggested_commit(), session_id=self.session_id,
            model=self.llm.router.primary("coder").model, by=by, files=files, reverts=reverts)

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_reply(self, exchange: list[Message]) -> None:
        for where, job in (("memory", self.experts.update_memory(exchange)),
                           ("summary", self.experts.update_summary(self.transcript))):
            try:
                await job
            except SageError as exc:
                self._emit(EventName.ERROR, {"where": where, "kind": getattr(exc, "kind", "error"),
                                             "message": f"Updating the {where} failed: {exc}"})
            except ValueError as exc:
                self._emit(EventName.ERROR, {"where": where, "kind": "invalid_reply",
                                             "message": f"The {where} update was not usable "
                                                        f"({exc}); it was skipped."})

    async def settle(self, timeout: float = BACKGROUND_TIMEOUT) -> None:
        """Wait for background updates (memory, summary), cancelling what overruns."""
        pending = set(self._background)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def finish(self, status: str) -> None:
        """Settle background work and announce the end of the session (SESSION_ENDED)."""
        await self.settle()
        self._emit(EventName.SESSION_ENDED, {"status": status, "turns": self.turn,
                                             "tokens": self.llm.ledger.totals()})

    def set_mode(self, mode: Mode, by: str = "person") -> None:
        """Switch the mode (a MODE_CHANGED event); the checkpoints follow it from the next one."""
        if mode == self.mode:
            return
        self._emit(EventName.MODE_CHANGED, {"from": self.mode, "to": mode, "by": by})
        self.mode = mode
        if self.code is not None:
            self.code.mode = mode

    def fast_answer(self, kind: str) -> str:
        """SAGE's own answer to a status question (no model call)."""
        if kind == "models":
            lines = []
            for name in ROLES:
                choice = self.llm.router.primary(name)
                lines.append(f"- {name}: {choice.model} (num_ctx {choice.num_ctx:,}, "
                             f"{choice.reason}) at {choice.host}")
            return "Models by role:\n" + "\n".join(lines)
        if kind == "tokens":
            ledger = self.llm.ledger
            mark = "~" if ledger.estimated else ""
            lines = [f"This session: {mark}{ledger.prompt_tokens:,} tokens in, "
                     f"{mark}{ledger.completion_tokens:,} out over {ledger.calls} model calls"
                     + (" (~ marks estimates)." if ledger.estimated else ".")]
            for role, usage in ledger.roles.items():
                lines.append(f"- {role} ({usage.model}): {usage.prompt_total:,} in, "
                             f"{usage.completion_total:,} out; last prompt filled "
                             f"{usage.context_fraction:.0%} of num_ctx {usage.num_ctx:,}")
            return "\n".join(lines)
        if kind == "mode":
            return (f"Mode: {self.mode}. research stops at every checkpoint, auto proceeds and "
                    "logs them, silent prints only results.")
        return HELP_TEXT
