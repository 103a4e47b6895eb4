"""Message routing: a deterministic fast path, an LLM classifier, and a fail-safe.

* Fast path: short status questions (which models, tokens used, mode, help) are
  answered from SAGE's own state with no model call (`source: fast_path`).
* Otherwise the router role classifies the last 7 messages into
  `{kind, reasoningText, experts}` through Ollama's structured output (`source: llm`).
* Invalid JSON, an unknown kind, a timeout or any model failure routes to `qa` with
  the Memory expert (`source: fail_safe`) and says why.

One ROUTE_DECISION per message, emitted by the caller from the returned `Route`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sage_tui.core.agent.prompts import ROUTER_SYSTEM
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.errors import LLMError
from sage_tui.core.llm.types import Message
from sage_tui.core.log.events import ROUTES, RouteDecision

EXPERTS = ("memory", "summarizer", "retrieval", "git")
HISTORY = 7  # messages the classifier sees, the current one included
FAST_PATH_MAX_CHARS = 80

ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": list(ROUTES)},
        # bounded, so a rambling model still closes the JSON before its token limit
        "reasoningText": {"type": "string", "maxLength": 200},
        "experts": {"type": "array", "items": {"type": "string", "enum": list(EXPERTS)},
                    "maxItems": len(EXPERTS)},
    },
    "required": ["kind", "reasoningText", "experts"],
}


_FAST_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("help", re.compile(r"^\s*(?:/help|help|\?|what can you do\??|commands\??)\s*$", re.I)),
    ("models", re.compile(r"^\s*/models\s*$|\b(?:which|what)\s+models?\b.*\b(?:use|using|run|"
                          r"running|configured|loaded)\b|\bwhat models?\s+(?:are|is)\b", re.I)),
    ("tokens", re.compile(r"^\s*/tokens\s*$|\bhow many tokens\b|\btokens?\s+(?:used|so far|"
                          r"usage)\b|\btoken (?:count|usage)\b", re.I)),
    ("mode", re.compile(r"^\s*/mode\s*$|\b(?:which|what)(?:'s| is)?\s+(?:the\s+)?(?:current\s+)?"
                        r"mode\b|\bwhat mode\b", re.I)),
)


@dataclass(frozen=True)
class Route:
    """Where a message goes, and why. `fast_path` names the status answer, if any."""

    route: str
    experts: tuple[str, ...]
    reasoning: str
    source: str
    latency_ms: float
    fast_path: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def event(self) -> RouteDecision:
        """The ROUTE_DECISION payload."""
        data: RouteDecision = {"route": self.route, "experts": list(self.experts),
                               "reasoning": self.reasoning, "source": self.source,
                               "latency_ms": round(self.latency_ms, 2)}
        if self.fast_path:
            data["fast_path"] = self.fast_path
        if "fail_safe_reason" in self.detail:
            data["fail_safe_reason"] = str(self.detail["fail_safe_reason"])
        return data


def fast_path(text: str) -> str | None:
    """The status question `text` asks, if it is one SAGE answers without a model."""
    if len(text) > FAST_PATH_MAX_CHARS:
        return None
    for kind, pattern in _FAST_PATTERNS:
        if pattern.search(text):
            return kind
    return None


def parse_route(raw: str) -> tuple[str, tuple[str, ...], str]:
    """Validate the classifier's JSON.

    Raises:
        ValueError: with the reason the reply cannot be used.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError(f"the router's reply is not JSON: {raw[:80]!r}") from None
    if not isinstance(data, dict):
        raise ValueError("the router's reply is not a JSON object")
    kind = data.get("kind")
    if kind not in ROUTES:
        raise ValueError(f"the router chose an unknown kind {kind!r}")
    experts = data.get("experts") or []
    if not isinstance(experts, list):
        experts = []
    chosen = tuple(dict.fromkeys(e for e in experts if e in EXPERTS)) \
        or DEFAULT_EXPERTS.get(str(kind), ())  # a route keeps its experts when none are named
    reasoning = str(data.get("reasoningText") or "").strip() or "(no reasoning given)"
    return str(kind), chosen, reasoning


# What each route needs when the router names no expert (DESIGN.md §4's default experts).
DEFAULT_EXPERTS: dict[str, tuple[str, ...]] = {
    "summarize": ("summarizer", "memory"), "memory": ("memory",), "review": ("git",),
    "code": ("retrieval", "git"),
}


class MessageRouter:
    """Routes one message at a time; never raises for model trouble (fail-safe)."""

    def __init__(self, llm: LLMClient, timeout: float | None = None) -> None:
        self.llm = llm
        self.timeout = timeout

    async def route(self, history: Sequence[Message], text: str) -> Route:
        start = time.perf_counter()
        kind = fast_path(text)
        if kind is not None:
            return Route("admin", (), f"status question about {kind}, answered by SAGE itself",
                         "fast_path", (time.perf_counter() - start) * 1000, fast_path=kind)
        recent = [m for m in history if m.get("role") in ("user", "assistant")][-(HISTORY - 1):]
        parts = PromptParts(system=ROUTER_SYSTEM, current=text, transcript=list(recent))
        try:
            result = await self.llm.call("router", parts, format=ROUTE_SCHEMA,
                                         read_timeout=self.timeout)
            route, experts, reasoning = parse_route(result.content)
        except LLMError as exc:
            return self._fail_safe(start, f"{exc.kind}: {exc}")
        except ValueError as exc:
            return self._fail_safe(start, str(exc))
        return Route(route, experts, reasoning, "llm", (time.perf_counter() - start) * 1000)

    def _fail_safe(self, start: float, why: str) -> Route:
        return Route("qa", ("memory",), f"fail-safe: {why}", "fail_safe",
                     (time.perf_counter() - start) * 1000, detail={"fail_safe_reason": why})
