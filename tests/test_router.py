"""Message routing: the LLM classifier, its fail-safe, and the no-model fast path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from sage_tui.config import Settings, default_models
from sage_tui.core.agent.router import HISTORY, ROUTE_SCHEMA, MessageRouter, Route, fast_path
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.ollama_backend import OllamaBackend
from sage_tui.core.log.events import Event
from sage_tui.factory import model_router
from tests.fake_ollama import FakeOllamaServer

Start = Callable[..., FakeOllamaServer]


def route_with(server_host: str, text: str, history: list[dict[str, Any]] | None = None,
               timeout: float = 5.0) -> tuple[Route, list[Event]]:
    events: list[Event] = []
    backend = OllamaBackend(f"http://{server_host}")
    client = LLMClient(model_router(default_models(), Settings(ollama_host=f"http://{server_host}")),
                       lambda host: backend, events.append, max_prompt_chars=60_000)

    async def go() -> Route:
        try:
            return await asyncio.wait_for(
                MessageRouter(client, timeout=timeout).route(history or [], text), timeout=30)
        finally:
            await backend.aclose()

    return asyncio.run(go()), events


def router_scenario(reply: Any = None, fault: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"when": {"role": "router"}}
    if reply is not None:
        rule["reply"] = reply
    if fault is not None:
        rule["fault"] = fault
    return {"rules": [rule]}


@pytest.mark.parametrize("reply,fault,route,source,why", [
    ({"json": {"kind": "code", "reasoningText": "wants a change",
               "experts": ["retrieval", "git", "bogus"]}}, None, "code", "llm", "wants a change"),
    ({"json": {"kind": "review", "reasoningText": "", "experts": []}}, None, "review", "llm",
     "(no reasoning given)"),
    ("this is not json", None, "qa", "fail_safe", "not JSON"),
    ({"json": {"kind": "deploy", "reasoningText": "x", "experts": []}}, None, "qa", "fail_safe",
     "unknown kind 'deploy'"),
    ({"json": ["a", "list"]}, None, "qa", "fail_safe", "not a JSON object"),
    (None, "stall", "qa", "fail_safe", "timeout"),
    (None, "error_500", "qa", "fail_safe", "model_error"),
    (None, "not_found", "qa", "fail_safe", "model_not_found"),
    ("{\"kind\": \"qa\"", "truncated", "qa", "fail_safe", "protocol"),
])
def test_router_matrix(fake_ollama: Start, reply: Any, fault: str | None, route: str,
                       source: str, why: str) -> None:
    server = fake_ollama(router_scenario(reply, fault), stall_seconds=30)
    decided, events = route_with(server.host, "please add a --verbose flag", timeout=0.5)
    assert (decided.route, decided.source) == (route, source)
    assert why in decided.reasoning
    if source == "fail_safe":
        assert decided.experts == ("memory",)
        assert decided.event()["fail_safe_reason"] in decided.reasoning
    else:
        assert "bogus" not in decided.experts
    assert [str(e.name) for e in events][-1] == "TOKEN_USAGE"  # the call was accounted


def test_router_sends_the_last_seven_messages_and_the_schema(fake_ollama: Start) -> None:
    server = fake_ollama(router_scenario({"json": {"kind": "qa", "reasoningText": "q",
                                                   "experts": ["memory"]}}))
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"}
               for i in range(10)]
    route_with(server.host, "and now?", history)
    [request] = server.chat_requests("router")
    sent = request.body["messages"]
    assert sent[0]["role"] == "system"
    assert [m["content"] for m in sent[1:]] == [f"message {i}" for i in range(4, 10)] + ["and now?"]
    assert len(sent) - 1 == HISTORY
    assert request.body["format"] == ROUTE_SCHEMA
    assert request.body["options"]["temperature"] == 0


@pytest.mark.parametrize("text,kind", [
    ("which models do you use?", "models"), ("What models are configured", "models"),
    ("/models", "models"), ("how many tokens have we used?", "tokens"), ("tokens used", "tokens"),
    ("/tokens", "tokens"), ("what mode is this?", "mode"), ("which mode", "mode"),
    ("/mode", "mode"), ("help", "help"), ("/help", "help"), ("?", "help"),
])
def test_fast_path_reaches_no_server(dead_host: str, text: str, kind: str) -> None:
    decided, events = route_with(dead_host, text)
    assert (decided.route, decided.source, decided.fast_path) == ("admin", "fast_path", kind)
    assert events == []  # no model call was even attempted


@pytest.mark.parametrize("text", [
    "add a models.py file with a User class",
    "refactor the token counting in tokens.py so that it handles emoji, and explain the mode",
    "help me fix the failing test in test_cli.py",
])
def test_fast_path_leaves_real_requests_alone(text: str) -> None:
    assert fast_path(text) is None
