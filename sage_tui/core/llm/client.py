"""`LLMClient`: one observable model call per `call()`.

For every attempt it emits, in this order (DESIGN.md §3's golden rule):
MODEL_ROUTING_DECISION → CONTEXT_CLAMPED (only when the budget bit) → TOKEN_USAGE.
A model that turns out not to be pulled is remembered and the role's fallback is
tried, as a new attempt with its own three events. Any other failure is raised as a
typed `LLMError` after its TOKEN_USAGE; the caller reports it as an ERROR.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sage_tui.core.llm.context import BuiltPrompt, PromptParts, build_prompt, prompt_texts
from sage_tui.core.llm.counting import ModelCounter, Tally, TokenCounters
from sage_tui.core.llm.errors import LLMError, ModelNotFound, ReplyTooLong
from sage_tui.core.llm.routing import ModelChoice, ModelRouter
from sage_tui.core.llm.tokens import MESSAGE_OVERHEAD, UsageLedger, estimate_tokens
from sage_tui.core.llm.types import ChatBackend, ChatRequest, Message, ToolCall
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import (
    EventName,
    ModelRoutingDecision,
    Sink,
    TokenUsage,
    UsageSource,
)
from sage_tui.core.log.redaction import redact, redact_value

DEFAULT_READ_TIMEOUT = 120.0


@dataclass(frozen=True)
class CallResult:
    """What one successful call produced."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    choice: ModelChoice
    prompt_tokens: int
    completion_tokens: int
    source: str
    done_reason: str | None

MAX_REPLY_CHARS = 400_000  # about 100,000 tokens: far past any answer a turn needs


class LLMClient:
    """Routes, clamps, calls and accounts; the only way the core talks to models."""

    def __init__(self, router: ModelRouter, backend_for: Callable[..., ChatBackend],
                 sink: Sink, *, max_prompt_chars: int, counters: TokenCounters | None = None,
                 ledger: UsageLedger | None = None,
                 read_timeout: float = DEFAULT_READ_TIMEOUT,
                 max_reply_chars: int = MAX_REPLY_CHARS, redact_prompts: str = "auto") -> None:
        self.router = router
        self.backend_for = backend_for
        self.sink = sink
        self.max_prompt_chars = max_prompt_chars
        self.counters = counters or TokenCounters()  # one per model, chosen by its server
        self.ledger = ledger or UsageLedger()
        self.read_timeout = read_timeout
        self.max_reply_chars = max_reply_chars  # a reply past this ends the call (ReplyTooLong)
        self.unavailable: set[tuple[str, str]] = set()
        self._call_ids = itertools.count(1)
        self.redact_prompts = redact_prompts  # auto: for hosts off this machine; always; never
        self._said_redacted = False  # PROMPT_REDACTED once a turn

    def new_turn(self) -> None:
        """A new turn starts: the first redacted prompt in it is announced again."""
        self._said_redacted = False

    def _leaves_as_is(self, choice: ModelChoice) -> bool:
        """Whether text for this host leaves unredacted (this machine under `auto`, or `never`)."""
        return self.redact_prompts == "never" or (self.redact_prompts == "auto"
                                                  and is_loopback(choice.host))

    def _outbound(self, call_id: str, choice: ModelChoice,
                  messages: list[Message]) -> list[Message]:
        """The messages as they may leave: redacted for a host off this machine (`auto`),
        for every host (`always`), or not at all (`never`)."""
        if self._leaves_as_is(choice):
            return messages
        sent = [redact_value(m) for m in messages]
        changed = sum(1 for before, after in zip(messages, sent, strict=True) if before != after)
        if changed and not self._said_redacted:
            self._said_redacted = True
            self._emit(EventName.PROMPT_REDACTED, {
                "call_id": call_id, "role": choice.role, "model": choice.model,
                "host": choice.host, "messages": changed, "setting": self.redact_prompts})
        return sent

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    def skip_call_ids(self, used: int) -> None:
        """Number later calls after `used` (a continued session's log has llm-1..llm-used)."""
        self._call_ids = itertools.count(used + 1)

    def choose(self, role: str, model: str) -> None:
        """Serve `role` with `model` for the rest of the session: the person chose it with
        `/model` (MODEL_ROUTING_DECISION, reason `user`, no call)."""
        self.router.choose(role, model)
        self.unavailable.discard((self.router.primary(role).host, model))
        choice = self.router.primary(role)
        self._emit(EventName.MODEL_ROUTING_DECISION, {
            "role": role, "model": model, "host": choice.host, "reason": "user",
            "num_ctx": choice.num_ctx})

    async def pulled(self, role: str) -> list[str]:
        """The models the server of `role` has, by name.

        Raises:
            LLMError: the server cannot be reached or answered oddly (one sentence).
        """
        return sorted(info.name for info in
                      await self.backend(self.router.primary(role)).list_models())

    def backend(self, choice: ModelChoice) -> ChatBackend:
        """The backend serving `choice`: Ollama at its host, or an OpenAI-compatible server."""
        if choice.api == "openai":
            return self.backend_for(choice.host, "openai", choice.api_key_env)
        return self.backend_for(choice.host)

    async def call(self, role: str, parts: PromptParts, *,
                   tools: Sequence[Mapping[str, Any]] | None = None,
                   format: str | Mapping[str, Any] | None = None,
                   on_delta: Callable[[str], None] | None = None,
                   read_timeout: float | None = None) -> CallResult:
        """Make one model call for `role`; stream content to `on_delta`.

        Raises:
            LLMError: a typed, user-readable failure (after its TOKEN_USAGE event).
        """
        last_missing: ModelNotFound | None = None
        candidates = self.router.candidates(role)
        for choice in candidates:
            if (choice.host, choice.model) in self.unavailable:
                continue
            call_id = f"llm-{next(self._call_ids)}"  # pairs the three events of an attempt
            routed: ModelRoutingDecision = {
                "call_id": call_id, "role": role, "model": choice.model, "host": choice.host,
                "reason": choice.reason, "num_ctx": choice.num_ctx}
            if last_missing:
                routed["instead_of"] = last_missing.model
            self._emit(EventName.MODEL_ROUTING_DECISION, routed)
            counter = self.counters.get(choice.api, choice.host, choice.model,
                                        self.backend(choice))
            await counter.prepare(prompt_texts(parts),  # the server's tokenizer, if it has one
                                  None if self._leaves_as_is(choice) else redact)
            tally = counter.tally()
            built = build_prompt(parts, role=role, num_ctx=choice.num_ctx,
                                 max_chars=self.max_prompt_chars, counter=tally,
                                 options=choice.options)
            if built.clamp is not None:
                self._emit(EventName.CONTEXT_CLAMPED, {"call_id": call_id, **built.clamp})
            try:
                return await self._attempt(call_id, choice, built, (counter, tally), tools,
                                           format, on_delta, read_timeout or self.read_timeout)
            except ModelNotFound as missing:
                self.unavailable.add((choice.host, choice.model))
                last_missing = missing
        if last_missing is not None:
            raise last_missing
        primary = candidates[0]
        raise ModelNotFound(primary.model, primary.host)

    async def _attempt(self, call_id: str, choice: ModelChoice, built: BuiltPrompt,
                       counting: tuple[ModelCounter, Tally],
                       tools: Sequence[Mapping[str, Any]] | None,
                       format: str | Mapping[str, Any] | None,
                       on_delta: Callable[[str], None] | None, read_timeout: float) -> CallResult:
        messages = self._outbound(call_id, choice, list(built.messages))
        request = ChatRequest(model=choice.model, messages=messages, options=choice.options,
                              role=choice.role, tools=tools, format=format,
                              read_timeout=read_timeout)
        backend = self.backend(choice)
        content: list[str] = []
        calls: list[ToolCall] = []
        final = None
        size = 0
        try:
            async for chunk in backend.chat(request):
                if chunk.content:
                    size += len(chunk.content)
                    if size > self.max_reply_chars:
                        raise ReplyTooLong(choice.model, self.max_reply_chars)
                    content.append(chunk.content)
                    if on_delta is not None:
                        on_delta(chunk.content)
                calls.extend(chunk.tool_calls)
                if chunk.done:
                    final = chunk
        except (LLMError, asyncio.CancelledError) as exc:
            self._usage(call_id, choice, built, counting, "".join(content), None, None,
                        failed=type(exc).__name__)
            raise
        text = "".join(content)
        reported = final.prompt_eval_count if final else None
        prompt, completion, source = self._usage(
            call_id, choice, built, counting, text, reported, final.eval_count if final else None)
        if reported and not built.overflow and reported < choice.num_ctx * 0.95:
            counting[0].learn(rough_tokens(built.messages, tools), reported)  # not a cut prompt
        return CallResult(text, tuple(calls), choice, prompt, completion, source,
                          final.done_reason if final else None)

    def _usage(self, call_id: str, choice: ModelChoice, built: BuiltPrompt,
               counting: tuple[ModelCounter, Tally], text: str, prompt_count: int | None,
               completion_count: int | None,
               failed: str | None = None) -> tuple[int, int, UsageSource]:
        source: UsageSource
        if failed is not None and not text:
            prompt, completion = 0, 0  # nothing was evaluated
            source = "openai" if choice.api == "openai" else "ollama"
        else:
            prompt = prompt_count if prompt_count is not None else built.tokens
            completion = (completion_count if completion_count is not None
                          else counting[0].count(text))
            exact = prompt_count is not None and completion_count is not None
            source = ("openai" if choice.api == "openai" else "ollama") if exact else "estimate"
        totals = self.ledger.record(choice.role, choice.model, choice.num_ctx, prompt, completion,
                                    source == "estimate")
        data: TokenUsage = {
            "call_id": call_id, "role": choice.role, "model": choice.model, "prompt_tokens": prompt,
            "completion_tokens": completion, "source": source, "session": totals,
            "prompt_estimate": built.tokens, "estimator": counting[1].estimator,
            "num_ctx": choice.num_ctx,
        }
        if failed is not None:
            data["failed"] = failed
        self._emit(EventName.TOKEN_USAGE, data)
        return prompt, completion, source


def rough_tokens(messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None) -> int:
    """`estimate_tokens` of a whole prompt as a server sees it (tool schemas included), to
    calibrate against the count the server reports for it."""
    rough = sum(estimate_tokens(str(m.get("content") or "")) + MESSAGE_OVERHEAD
                for m in messages)
    return rough + (estimate_tokens(json.dumps(list(tools))) if tools else 0)


@functools.lru_cache(maxsize=64)
def is_loopback(host: str) -> bool:
    """Whether a model host URL points at this machine (127.0.0.0/8, ::1, localhost)."""
    name = urlsplit(host if "://" in host else f"http://{host}").hostname or ""
    if name == "localhost":  # not x.localhost: a resolver may send that anywhere
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
