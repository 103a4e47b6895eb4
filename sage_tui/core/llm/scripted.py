"""Scripted scenarios: a model whose replies are written down in advance.

The same scenario format drives three things: `ScriptedBackend` (played in-process by
`sage demo` and unit tests), the fake Ollama HTTP server in `tests/` (which serves a
scenario over the real protocol), and the golden-trace recorder.

A scenario (YAML or JSON)::

    name: qa-basic
    label: demo model              # shown on screen beside model names
    models:                        # what the server says it has pulled (omit: any model)
      - {name: "qwen2.5-coder:7b", context_length: 32768, capabilities: [completion, tools]}
    rules:                         # tried in order; the first that matches and is not used up
      - when: {role: router}
        reply: {json: {kind: qa, reasoningText: "a question", experts: [retrieval]}}
      - when: {role: coder, contains: "flag"}
        times: 1                   # used once, then skipped
        reply: {tool_calls: [{name: read_file, arguments: {path: cli.py}}]}
      - when: {}
        reply: {content: "Here is the answer.", chunks: 4, eval_count: 5}
      - when: {model: "broken:1b"}
        fault: error_500           # refused, stall, not_found, no_tools, error_500,
                                   # stream_error, truncated, blank_line
        after_chunks: 2            # mid-stream faults: after this many content chunks

`when` keys (all must hold): `role`, `model`, `contains` (in the last user message,
case-insensitive), `system_contains`, `has_tools`, `has_format`, `endpoint` (`chat` or
`generate`). `reply` keys: `content` or `json`, `tool_calls`, `chunks` (pieces to split
the content into; default one per word), `prompt_eval_count` and `eval_count` (default:
counted from the text), `done_reason`, `delay_ms` (between chunks).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.errors import (
    LLMError,
    ModelFailed,
    ModelNotFound,
    ModelTimeout,
    OllamaUnreachable,
    ProtocolError,
    ToolsUnsupported,
)
from sage_tui.core.llm.types import ChatChunk, ChatRequest, Message, ModelInfo, ToolCall
from sage_tui.core.yamltext import YAMLSyntaxError, safe_load

FAULTS = ("refused", "stall", "not_found", "no_tools", "error_500", "stream_error", "truncated",
          "blank_line")
_WHEN_KEYS = ("role", "model", "contains", "system_contains", "has_tools", "has_format", "endpoint")
_REPLY_KEYS = ("content", "json", "tool_calls", "chunks", "prompt_eval_count", "eval_count",
               "done_reason", "delay_ms")
_RULE_KEYS = ("when", "reply", "fault", "after_chunks", "times", "note")


class ScenarioExhausted(LLMError):
    """No rule of the scenario answers a request."""

    kind = "scenario"


def rough_tokens(text: str) -> int:
    """A deterministic token count for scripted replies (words and punctuation)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


@dataclass(frozen=True)
class RequestView:
    """What a rule can look at in a request, from either transport."""

    role: str
    model: str
    messages: Sequence[Message]
    has_tools: bool = False
    has_format: bool = False
    endpoint: str = "chat"

    @property
    def last_user(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""

    @property
    def system(self) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages
                         if m.get("role") == "system")


@dataclass
class Reply:
    """A scripted answer."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    chunks: int | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    done_reason: str = "stop"
    delay_ms: float = 0.0

    def pieces(self) -> list[str]:
        """The content split into the streamed pieces."""
        if not self.content:
            return []
        if self.chunks is None:
            return re.findall(r"\S+\s*|\s+", self.content)
        size = max(1, -(-len(self.content) // max(1, self.chunks)))
        return [self.content[i:i + size] for i in range(0, len(self.content), size)]

    def counters(self, messages: Sequence[Message]) -> tuple[int, int]:
        """(prompt_eval_count, eval_count) to report on the final chunk."""
        prompt = self.prompt_eval_count
        if prompt is None:
            prompt = sum(rough_tokens(str(m.get("content") or "")) + 4 for m in messages)
        completion = self.eval_count
        if completion is None:
            completion = rough_tokens(self.content) + 8 * len(self.tool_calls)
        return prompt, completion


@dataclass
class Rule:
    """`when` this request, answer with `reply` or fail with `fault`."""

    when: Mapping[str, Any]
    reply: Reply | None = None
    fault: str | None = None
    after_chunks: int = 0
    times: int | None = None
    used: int = 0

    def matches(self, view: RequestView) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        when = self.when
        checks = (
            ("role", lambda v: view.role == v),
            ("model", lambda v: view.model == v),
            ("contains", lambda v: str(v).lower() in view.last_user.lower()),
            ("system_contains", lambda v: str(v).lower() in view.system.lower()),
            ("has_tools", lambda v: view.has_tools == bool(v)),
            ("has_format", lambda v: view.has_format == bool(v)),
            ("endpoint", lambda v: view.endpoint == v),
        )
        return all(check(when[key]) for key, check in checks if key in when)


@dataclass(frozen=True)
class ModelSpec:
    """A model the scripted server reports as pulled."""

    name: str
    context_length: int = 32768
    capabilities: tuple[str, ...] = ("completion", "tools")
    parameter_size: str = "7.6B"
    quantization: str = "Q4_K_M"
    size: int = 4_683_087_332

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.size, self.parameter_size, self.quantization,
                         self.context_length, self.capabilities)


@dataclass
class Scenario:
    """A parsed scenario. Thread-safe: the HTTP server calls it from several threads."""

    name: str
    rules: list[Rule]
    models: list[ModelSpec] = field(default_factory=list)
    label: str = "scripted model"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> Scenario:
        """Parse a scenario from a file path or an already-loaded mapping.

        Raises:
            ConfigError: naming the file, the rule and what is wrong.
        """
        if isinstance(source, Mapping):
            return _parse(source, "scenario")
        path = Path(source)
        try:
            data = safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read the scenario {path} ({exc.strerror}).") from exc
        except YAMLSyntaxError as exc:
            raise ConfigError(f"The scenario {path} is not valid YAML or JSON{exc.where}: "
                              f"{exc.problem}.") from exc
        return _parse(data, str(path))

    def has_model(self, name: str) -> bool:
        if not self.models:
            return True
        names = {m.name for m in self.models}
        return name in names or f"{name}:latest" in names or name.removesuffix(":latest") in names

    def model(self, name: str) -> ModelSpec | None:
        for spec in self.models:
            if name in (spec.name, spec.name.removesuffix(":latest")):
                return spec
        return ModelSpec(name) if not self.models else None

    def add_model(self, name: str) -> None:
        with self._lock:
            if not any(m.name == name for m in self.models):
                self.models.append(ModelSpec(name))

    def take(self, view: RequestView) -> Rule:
        """The first matching rule, marked as used once more.

        Raises:
            ScenarioExhausted: no rule matches.
        """
        with self._lock:
            for rule in self.rules:
                if rule.matches(view):
                    rule.used += 1
                    return rule
        raise ScenarioExhausted(
            f"The scenario {self.name!r} has no reply for the {view.role} call to {view.model} "
            f"(message {view.last_user[:60]!r}); add a rule for it."
        )


def _parse(data: Any, source: str) -> Scenario:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a scenario must be a mapping with 'rules'.")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise ConfigError(f"{source}: 'rules' must be a non-empty list.")
    rules = [_parse_rule(raw, f"{source}: rules[{i}]") for i, raw in enumerate(rules_data)]
    models = []
    for i, raw in enumerate(data.get("models") or []):
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ConfigError(f"{source}: models[{i}] needs a 'name'.")
        caps = raw.get("capabilities", ("completion", "tools"))
        models.append(ModelSpec(
            name=raw["name"], context_length=int(raw.get("context_length", 32768)),
            capabilities=tuple(caps), parameter_size=str(raw.get("parameter_size", "7.6B")),
            quantization=str(raw.get("quantization", "Q4_K_M")),
            size=int(raw.get("size", 4_683_087_332)),
        ))
    return Scenario(name=str(data.get("name", "scenario")), rules=rules, models=models,
                    label=str(data.get("label", "scripted model")))


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping with 'when' and 'reply' or 'fault'.")
    for key in raw:
        if key not in _RULE_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(_RULE_KEYS)}).")
    when = raw.get("when") or {}
    if not isinstance(when, Mapping) or any(k not in _WHEN_KEYS for k in when):
        raise ConfigError(f"{where}: 'when' may use only {', '.join(_WHEN_KEYS)}.")
    fault = raw.get("fault")
    if fault is not None and fault not in FAULTS:
        raise ConfigError(f"{where}: fault {fault!r} is not one of {', '.join(FAULTS)}.")
    reply_data = raw.get("reply")
    if reply_data is None and fault is None:
        raise ConfigError(f"{where} needs a 'reply' or a 'fault'.")
    reply = _parse_reply(reply_data, where) if reply_data is not None else None
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ConfigError(f"{where}: 'times' must be a positive whole number.")
    return Rule(when=dict(when), reply=reply, fault=fault,
                after_chunks=int(raw.get("after_chunks", 0)), times=times)


def _parse_reply(raw: Any, where: str) -> Reply:
    if isinstance(raw, str):
        return Reply(content=raw)
    if not isinstance(raw, Mapping) or any(k not in _REPLY_KEYS for k in raw):
        raise ConfigError(f"{where}: 'reply' may use only {', '.join(_REPLY_KEYS)}.")
    content = raw.get("content", "")
    if "json" in raw:
        content = json.dumps(raw["json"], ensure_ascii=False)
    calls = []
    for call in raw.get("tool_calls") or []:
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ConfigError(f"{where}: each tool call needs a 'name' and 'arguments'.")
        calls.append(ToolCall(call["name"], dict(call.get("arguments") or {})))
    return Reply(
        content=str(content), tool_calls=tuple(calls), chunks=raw.get("chunks"),
        prompt_eval_count=raw.get("prompt_eval_count"), eval_count=raw.get("eval_count"),
        done_reason=str(raw.get("done_reason", "stop")), delay_ms=float(raw.get("delay_ms", 0)),
    )


class ScriptedBackend:
    """Plays a scenario in-process, behaving like `OllamaBackend` (same chunks, same errors)."""

    def __init__(self, scenario: Scenario, host: str = "scripted") -> None:
        self.scenario = scenario
        self.host = host
        self.label = scenario.label
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        view = RequestView(request.role, request.model, request.messages,
                           has_tools=bool(request.tools), has_format=request.format is not None)
        if not self.scenario.has_model(request.model):
            raise ModelNotFound(request.model, self.host)
        rule = self.scenario.take(view)
        spec = self.scenario.model(request.model)
        if request.tools and spec is not None and "tools" not in spec.capabilities:
            raise ToolsUnsupported(request.model)
        reply = rule.reply or Reply()
        pieces = reply.pieces()
        if rule.fault in ("refused", "not_found", "no_tools", "error_500") or (
                rule.fault == "stall" and rule.after_chunks == 0):
            await self._fail_before(rule.fault, request)
        for index, piece in enumerate(pieces):
            if rule.fault and index == rule.after_chunks:
                await self._fail_midway(rule.fault, request)
            if reply.delay_ms:
                await asyncio.sleep(reply.delay_ms / 1000)
            yield ChatChunk(content=piece)
        if rule.fault:
            await self._fail_midway(rule.fault, request)
        if reply.tool_calls:
            yield ChatChunk(tool_calls=reply.tool_calls)
        prompt, completion = reply.counters(request.messages)
        yield ChatChunk(done=True, done_reason=reply.done_reason, prompt_eval_count=prompt,
                        eval_count=completion)

    async def _fail_before(self, fault: str, request: ChatRequest) -> None:
        if fault == "refused":
            raise OllamaUnreachable(self.host)
        if fault == "not_found":
            raise ModelNotFound(request.model, self.host)
        if fault == "no_tools":
            raise ToolsUnsupported(request.model)
        if fault == "error_500":
            raise ModelFailed(request.model, self.host, "llama runner process has terminated", 500)
        await self._fail_midway("stall", request)

    async def _fail_midway(self, fault: str, request: ChatRequest) -> None:
        if fault == "stall":
            await asyncio.sleep(request.read_timeout)
            raise ModelTimeout(request.model, request.role, request.read_timeout)
        if fault == "stream_error":
            raise ModelFailed(request.model, self.host, "an error was encountered while running "
                                                        "the model", -1)
        raise ProtocolError(self.host, "a reply line was cut short" if fault == "truncated"
                            else "an empty reply line")

    async def list_models(self) -> list[ModelInfo]:
        return [m.info() for m in self.scenario.models]

    async def aclose(self) -> None:
        return None
