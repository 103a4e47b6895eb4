"""Smoke: SAGE's whole model path against a real model (the `test` profile).

Real streaming, real token counters, the router's JSON through structured output,
and a tool round trip (native or the JSON-in-text fallback).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sage_tui.config import Settings, default_models
from sage_tui.core.agent.approval import ModeApprover
from sage_tui.core.agent.checkpoints import Checkpoints
from sage_tui.core.agent.router import MessageRouter
from sage_tui.core.agent.toolloop import ToolLoop
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts
from sage_tui.core.llm.ollama_backend import OllamaBackend
from sage_tui.core.log.events import ROUTES, Event
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.policy import load_policy
from sage_tui.core.tools.registry import ToolContext
from sage_tui.core.workspace.workspace import Workspace
from sage_tui.factory import model_router


def client(host: str, events: list[Event]) -> tuple[LLMClient, OllamaBackend]:
    backend = OllamaBackend(host)
    settings = Settings(ollama_host=host, model_profile="test", model_timeout=240)
    return LLMClient(model_router(default_models(), settings), lambda h: backend, events.append,
                     max_prompt_chars=60_000, read_timeout=240), backend


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=600))


def test_streaming_and_real_token_counters(host: str) -> None:
    events: list[Event] = []
    llm, backend = client(host, events)
    deltas: list[str] = []

    async def go() -> Any:
        try:
            return await llm.call("coder", PromptParts("Answer briefly.", "Name three colours."),
                                  on_delta=deltas.append)
        finally:
            await backend.aclose()

    result = run(go())
    assert len(deltas) > 1 and "".join(deltas) == result.content  # streamed, piece by piece
    usage = events[-1].data
    assert usage["source"] == "ollama" and usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert events[0].data["model"] == default_models().profiles["test"].model


def test_router_gets_valid_json_from_the_model(host: str) -> None:
    llm, backend = client(host, [])

    async def go() -> Any:
        try:
            return await MessageRouter(llm, timeout=240).route([], "Please fix the failing test "
                                                                    "in cli.py")
        finally:
            await backend.aclose()

    route = run(go())
    assert route.source == "llm", route.reasoning  # schema-constrained JSON, not the fail-safe
    assert route.route in ROUTES


def test_a_tool_round_trip_or_the_text_fallback(host: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("The answer is 42.\n")
    events: list[Event] = []
    llm, backend = client(host, events)
    loop = ToolLoop(llm, builtin_tools(), load_policy("read_only"),
                    Checkpoints(events.append, ModeApprover(), "auto"), events.append,
                    ToolContext(Workspace([tmp_path])), max_steps=3)

    async def go() -> Any:
        try:
            return await loop.run("coder", PromptParts(
                "You can read files. Use read_file on notes.txt, then answer.",
                "What does notes.txt say?"), ["read_file", "list_files"])
        finally:
            await backend.aclose()

    result = run(go())
    calls = [e for e in events if e.name == "TOOL_CALL"]
    assert loop.text_mode or calls, "neither a native tool call nor the text fallback happened"
    assert result.answer.strip() or calls  # the model answered, or at least called a tool
    usage = [e.data for e in events if e.name == "TOKEN_USAGE"]
    assert usage and all(u["source"] == "ollama" for u in usage if not u.get("failed"))
