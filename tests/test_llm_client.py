"""The model layer: typed failures, event order, honest tokens, fallback, num_ctx."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from sage_tui.config import Settings, default_models
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.counting import ModelCounter
from sage_tui.core.llm.errors import (
    LLMError,
    ModelFailed,
    ModelNotFound,
    ModelTimeout,
    OllamaUnreachable,
    ProtocolError,
)
from sage_tui.core.llm.ollama_backend import OllamaBackend
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.core.llm.types import ChatBackend
from sage_tui.core.log.events import Event
from sage_tui.factory import model_router
from tests.fake_ollama import FakeOllamaServer

Start = Callable[..., FakeOllamaServer]
MODELS = default_models()
CODER = MODELS.roles["coder"]


def make_client(host: str, events: list[Event], *, read_timeout: float = 5.0,
                settings: Settings | None = None,
                backend: Callable[[str], ChatBackend] | None = None) -> LLMClient:
    settings = settings or Settings(ollama_host=f"http://{host}")
    backends: dict[str, ChatBackend] = {}

    def backend_for(h: str) -> ChatBackend:
        if h not in backends:
            backends[h] = OllamaBackend(h)
        return backends[h]

    client = LLMClient(model_router(MODELS, settings), backend or backend_for, events.append,
                       max_prompt_chars=60_000, read_timeout=read_timeout)
    client.test_backends = backends  # type: ignore[attr-defined]
    return client


def names(events: list[Event]) -> list[str]:
    return [str(e.name) for e in events]


def call(client: LLMClient, role: str = "coder", text: str = "hello", **kwargs: Any) -> Any:
    async def go() -> Any:
        # An outer bound turns a hang into a failure instead of a stuck test run.
        try:
            return await asyncio.wait_for(
                client.call(role, PromptParts("You help.", text), **kwargs), timeout=30)
        finally:  # each asyncio.run has its own loop: let the next one open new connections
            for backend in client.test_backends.values():  # type: ignore[attr-defined]
                await backend.aclose()
    return asyncio.run(go())


def test_a_call_emits_routing_then_usage_with_the_servers_counters(fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [{"when": {}, "reply": {
        "content": "Answer text", "prompt_eval_count": 321, "eval_count": 45}}]})
    events: list[Event] = []
    deltas: list[str] = []
    result = call(make_client(server.host, events), on_delta=deltas.append)
    assert result.content == "Answer text" == "".join(deltas)
    assert names(events) == ["MODEL_ROUTING_DECISION", "TOKEN_USAGE"]
    routing, usage = (e.data for e in events)
    assert routing["model"] == CODER.model and routing["reason"] == "config"
    assert routing["host"] == f"http://{server.host}" and routing["call_id"] == usage["call_id"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["source"]) == (321, 45,
                                                                                     "ollama")
    assert usage["session"] == {"prompt_tokens": 321, "completion_tokens": 45, "estimated": False}


def test_num_ctx_and_options_are_always_sent(fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [{"when": {}, "reply": "ok"}]})
    call(make_client(server.host, []))
    [request] = server.chat_requests("coder")
    assert request.body["options"]["num_ctx"] == CODER.num_ctx
    assert request.body["options"]["temperature"] == CODER.options["temperature"]
    assert request.body["model"] == CODER.model


@pytest.mark.parametrize("fault,error", [
    ("not_found", ModelNotFound), ("error_500", ModelFailed), ("stream_error", ModelFailed),
    ("truncated", ProtocolError), ("blank_line", ProtocolError), ("refused", ProtocolError),
    ("stall", ModelTimeout),
])
def test_every_fault_is_a_typed_error_within_the_timeout(
        fake_ollama: Start, fault: str, error: type[LLMError]) -> None:
    server = fake_ollama({"models": [CODER.model], "rules": [
        {"when": {}, "fault": fault, "after_chunks": 1, "reply": "one two three"}]},
        stall_seconds=30)
    events: list[Event] = []
    client = make_client(server.host, events, read_timeout=0.5)
    client.router = model_router(MODELS, Settings(ollama_host=f"http://{server.host}",
                                                 force_local_model=CODER.model))
    start = time.monotonic()
    with pytest.raises(error) as caught:
        call(client)
    assert time.monotonic() - start < 10  # a stall ends at the read timeout, not the stall
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)
    assert names(events)[-1] == "TOKEN_USAGE" and events[-1].data["failed"] == error.__name__


def test_unreachable_ollama_names_the_host_and_the_fix(dead_host: str) -> None:
    events: list[Event] = []
    with pytest.raises(OllamaUnreachable) as caught:
        call(make_client(dead_host, events))
    assert f"http://{dead_host}" in str(caught.value) and "ollama serve" in str(caught.value)
    assert events[-1].data["prompt_tokens"] == 0 and events[-1].data["failed"]


def test_a_missing_model_falls_back_along_the_chain(fake_ollama: Start) -> None:
    fallback = CODER.fallback[0]
    server = fake_ollama({"models": [fallback], "rules": [{"when": {}, "reply": "from fallback"}]})
    events: list[Event] = []
    client = make_client(server.host, events)
    assert call(client).content == "from fallback"
    assert names(events) == ["MODEL_ROUTING_DECISION", "TOKEN_USAGE"] * 2
    first, _, second, usage = (e.data for e in events)
    assert (first["model"], first["reason"]) == (CODER.model, "config")
    assert (second["model"], second["reason"], second["instead_of"]) == (fallback, "fallback",
                                                                         CODER.model)
    assert usage["model"] == fallback
    events.clear()
    call(client)  # the missing model is remembered: straight to the fallback
    assert [e.data["model"] for e in events] == [fallback, fallback]
    assert len(server.chat_requests()) == 3


def test_no_model_of_the_chain_pulled_is_model_not_found(fake_ollama: Start) -> None:
    server = fake_ollama({"models": ["other:1b"], "rules": [{"when": {}, "reply": "x"}]})
    with pytest.raises(ModelNotFound) as caught:
        call(make_client(server.host, []))
    assert f"ollama pull {CODER.fallback[-1]}" in str(caught.value)


def test_force_and_profile_put_one_model_on_every_role(fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [{"when": {}, "reply": "x"}]})
    events: list[Event] = []
    forced = Settings(ollama_host=f"http://{server.host}", force_local_model="tiny:1b")
    client = make_client(server.host, events, settings=forced)
    call(client, role="router")
    call(client, role="planner")
    routing = [e.data for e in events if e.name == "MODEL_ROUTING_DECISION"]
    assert [(r["model"], r["reason"]) for r in routing] == [("tiny:1b", "force")] * 2
    events.clear()
    profiled = Settings(ollama_host=f"http://{server.host}", model_profile="test")
    call(make_client(server.host, events, settings=profiled), role="reviewer")
    test_profile = MODELS.profiles["test"]
    assert (events[0].data["model"], events[0].data["reason"]) == (test_profile.model, "profile")
    assert server.chat_requests("reviewer")[0].body["options"]["num_ctx"] == test_profile.num_ctx


def test_a_per_role_host_is_used(fake_ollama: Start) -> None:
    local = fake_ollama({"rules": [{"when": {}, "reply": "local"}]})
    gpu = fake_ollama({"rules": [{"when": {}, "reply": "gpu"}]})
    models = replace(MODELS, roles={**MODELS.roles,
                                    "coder": replace(CODER, host=f"http://{gpu.host}")})
    events: list[Event] = []
    settings = Settings(ollama_host=f"http://{local.host}")
    client = make_client(local.host, events, settings=settings)
    client.router = model_router(models, settings)
    assert call(client, role="coder").content == "gpu"
    assert call(client, role="router").content == "local"
    assert events[0].data["host"] == f"http://{gpu.host}"


def test_missing_counters_fall_back_to_estimates_marked_as_such() -> None:
    scenario = Scenario.load({"rules": [{"when": {}, "reply": "ok"}]})

    class NoCounters(ScriptedBackend):
        async def chat(self, request: Any) -> Any:  # type: ignore[override]
            async for chunk in super().chat(request):
                yield replace(chunk, prompt_eval_count=None, eval_count=None)

    events: list[Event] = []
    backend = NoCounters(scenario)
    client = make_client("unused:1", events, backend=lambda host: backend)
    call(client)
    usage = events[-1].data
    assert usage["source"] == "estimate" and usage["session"]["estimated"] is True
    assert usage["prompt_tokens"] == usage["prompt_estimate"] > 0
    assert usage["estimator"] == "heuristic"


def test_counting_before_a_call_never_touches_the_network_for_ollama(
        fake_ollama: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    """No tokenizer download, no tokenize probe: Ollama's calls are its chat requests."""
    server = fake_ollama({"rules": [{"when": {}, "reply": "ok"}]})
    events: list[Event] = []
    call(make_client(server.host, events))
    assert [r.path for r in server.requests] == ["/api/chat"]
    assert events[-1].data["estimator"] == "heuristic"

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("counting tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    counter = ModelCounter()
    asyncio.run(counter.prepare(["hello world, how are you?"]))
    assert counter.count("hello world, how are you?") > 0 and counter.offered is False


def test_scripted_backend_and_fake_server_agree(fake_ollama: Start) -> None:
    scenario_data: dict[str, Any] = {"rules": [{"when": {}, "reply": {
        "content": "same words either way", "tool_calls": [{"name": "read_file",
                                                             "arguments": {"path": "a.py"}}]}}]}
    server = fake_ollama(scenario_data)
    over_http = call(make_client(server.host, []), tools=[{"type": "function", "function": {
        "name": "read_file", "parameters": {"type": "object"}}}])
    scripted = ScriptedBackend(Scenario.load(scenario_data))
    in_process = call(make_client("x:1", [], backend=lambda host: scripted),
                      tools=[{"type": "function"}])
    for field in ("content", "tool_calls", "prompt_tokens", "completion_tokens", "source"):
        assert getattr(over_http, field) == getattr(in_process, field), field
