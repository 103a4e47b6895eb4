"""The OpenAI-compatible backend against a fake server speaking the real wire format: streaming,
usage from the final chunk, a tool call split over chunks, and each fault as one sentence."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sage_tui.core.llm.errors import (
    KeyRefused,
    LLMError,
    ModelFailed,
    NotServed,
    ProtocolError,
    ServerUnreachable,
)
from sage_tui.core.llm.openai_backend import OpenAIBackend, openai_messages
from sage_tui.core.llm.types import ChatChunk, ChatRequest
from tests.fake_openai import FakeOpenAI, Reply

SCHEMA = {"type": "object", "properties": {"kind": {"type": "string"}}, "required": ["kind"]}


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(key="sk-test-123").start()
    yield fake
    fake.stop()


def collect(backend: OpenAIBackend, **kwargs: Any) -> list[ChatChunk]:
    request = ChatRequest(model=kwargs.pop("model", "gemma-3-270m"),
                          messages=kwargs.pop("messages", [{"role": "user", "content": "hi"}]),
                          options=kwargs.pop("options", {"temperature": 0.1, "num_ctx": 4096}),
                          read_timeout=5, **kwargs)

    async def run() -> list[ChatChunk]:
        try:
            return [chunk async for chunk in backend.chat(request)]
        finally:
            await backend.aclose()

    return asyncio.run(run())


def test_a_streamed_reply_with_usage_from_the_final_chunk(server: FakeOpenAI) -> None:
    server.replies.append(Reply("The entry point is main().", prompt_tokens=40,
                                completion_tokens=6))
    chunks = collect(OpenAIBackend(server.host, api_key="sk-test-123"),
                     format=SCHEMA, role="router")
    assert "".join(c.content for c in chunks) == "The entry point is main()."
    assert (chunks[-1].done, chunks[-1].prompt_eval_count, chunks[-1].eval_count) == (True, 40, 6)
    [sent] = server.requests
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert sent["temperature"] == 0.1 and "num_ctx" not in sent  # Ollama's own option stays
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    assert server.headers[0]["x-sage-role"] == "router"


def test_a_tool_call_split_over_chunks_arrives_whole(server: FakeOpenAI) -> None:
    arguments = {"path": "calc.py", "search": "return a - b\n", "replace": "return a + b\n"}
    server.replies.append(Reply(tool=("propose_patch", arguments)))
    tools = [{"type": "function", "function": {"name": "propose_patch", "parameters": {}}}]
    chunks = collect(OpenAIBackend(server.host, api_key="sk-test-123"), tools=tools)
    [call] = chunks[-1].tool_calls
    assert (call.name, dict(call.arguments)) == ("propose_patch", arguments)
    assert server.requests[0]["tools"] == tools


def test_a_tool_round_trip_is_translated_with_ids() -> None:
    sent = openai_messages([
        {"role": "user", "content": "fix it"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "read_file", "arguments": {"path": "a.py"}}}]},
        {"role": "tool", "content": "x = 1", "tool_name": "read_file"},
    ])
    call = sent[1]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"path": "a.py"}
    assert sent[2] == {"role": "tool", "tool_call_id": call["id"], "content": "x = 1"}


@pytest.mark.parametrize("make,fault,error,says", [
    (lambda s: OpenAIBackend(s.host, api_key="sk-wrong"), None, KeyRefused, "refused the key"),
    (lambda s: OpenAIBackend(s.host, api_key="sk-test-123"), "500", ModelFailed,
     "llama runner crashed"),
    (lambda s: OpenAIBackend(s.host, api_key="sk-test-123"), "cut", ProtocolError,
     "cut short"),
])
def test_each_fault_is_one_sentence(server: FakeOpenAI, make: Any, fault: str | None,
                                    error: type[LLMError], says: str) -> None:
    server.replies.append(Reply("Hello there.", fault=fault))
    with pytest.raises(error) as raised:
        collect(make(server))
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_an_unknown_model_is_named_with_what_the_server_has(server: FakeOpenAI) -> None:
    with pytest.raises(NotServed, match=r"'qwen2\.5-coder:7b' is not served"):
        collect(OpenAIBackend(server.host, api_key="sk-test-123"), model="qwen2.5-coder:7b")


def test_a_server_that_is_not_there(dead_host: str) -> None:
    with pytest.raises(ServerUnreachable, match="Cannot reach the OpenAI-compatible server"):
        collect(OpenAIBackend(dead_host))


def test_the_model_list(server: FakeOpenAI) -> None:
    async def listed() -> list[str]:
        backend = OpenAIBackend(server.host + "/v1", api_key="sk-test-123")
        try:
            return [m.name for m in await backend.list_models()]
        finally:
            await backend.aclose()

    assert asyncio.run(listed()) == ["gemma-3-270m"]


def models_yaml(host: str) -> str:
    roles = "".join(f"  {role}:\n    model: gemma-3-270m\n    api: openai\n    host: {host}\n"
                    "    api_key_env: TEST_SERVER_KEY\n"
                    for role in ("router", "planner", "coder", "reviewer", "summarizer"))
    return "roles:\n" + roles


def test_sage_run_talks_to_an_openai_compatible_server_from_models_yaml(
        tmp_path: Any, server: FakeOpenAI) -> None:
    import os
    import subprocess
    import sys

    from sage_tui.core.log.sessionlog import read_session
    from tests.conftest import git_repo

    repo = git_repo(tmp_path / "repo", {"cli.py": "def main():\n    start_server(port=8080)\n"})
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    (config / "models.yaml").write_text(models_yaml(server.host))
    server.replies += [
        Reply('{"kind": "qa", "reasoningText": "a question", "experts": ["retrieval"]}',
              prompt_tokens=90, completion_tokens=12),
        Reply("The entry point is main() in cli.py:1.", prompt_tokens=300, completion_tokens=11),
        Reply('{"project_facts": [], "user_preferences": []}'),
    ]
    env = {**os.environ, "SAGE_HOME": str(tmp_path / "home"), "SAGE_SESSION_ID": "openai-run",
           "TEST_SERVER_KEY": "sk-test-123"}
    out = subprocess.run([sys.executable, "-m", "sage_tui", "run", "where does it start?",
                          "--mode", "silent", "--workspace", str(repo)], capture_output=True,
                         text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "The entry point is main() in cli.py:1."
    assert "sk-test-123" not in json.dumps(server.requests)  # the key only in the header
    records = list(read_session("openai-run", tmp_path / "home" / "data" / "sessions"))
    usage = [r["data"] for r in records if r["event"] == "TOKEN_USAGE"]
    assert (usage[1]["prompt_tokens"], usage[1]["source"]) == (300, "openai")
    started = next(r["data"] for r in records if r["event"] == "SESSION_STARTED")
    assert started["backend"] == "openai-compatible"
    logged = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert b"sk-test-123" not in logged  # never written anywhere


def test_the_health_check_and_models_yaml_understand_openai_servers(server: FakeOpenAI,
                                                                     monkeypatch: Any) -> None:
    from sage_tui.config import _parse_models
    from sage_tui.core.errors import ConfigError
    from sage_tui.core.llm.health import check_roles
    from sage_tui.core.llm.routing import ModelRouter
    from sage_tui.factory import ollama_backends

    monkeypatch.setenv("TEST_SERVER_KEY", "sk-test-123")
    models = _parse_models(models_yaml(server.host), "models.yaml", None)
    router = ModelRouter(models, "http://127.0.0.1:9")

    async def check(r: ModelRouter) -> Any:
        backend_for = ollama_backends()
        try:
            return await check_roles(r, backend_for)
        finally:
            for backend in backend_for.cache.values():  # type: ignore[attr-defined]
                await backend.aclose()

    health = asyncio.run(check(router))
    assert health.status == "ok" and "OpenAI-compatible server" in health.message
    other = _parse_models(models_yaml(server.host).replace("gemma-3-270m", "qwen:7b", 1),
                          "models.yaml", None)
    warned = asyncio.run(check(ModelRouter(other, "http://127.0.0.1:9")))
    assert warned.status == "warn" and "does not serve qwen:7b" in warned.message
    for bad, says in (("api: openai\n", "needs a host"), ("api: grpc\n", "must be ollama or "
                      "openai"), ("api_key_env: sk-abc-123\n", "must name an environment")):
        text = f"roles:\n  coder:\n    model: m\n    {bad}" + models_yaml(server.host).split(
            "\n", 1)[1].replace("  coder:", "  unused:")
        with pytest.raises(ConfigError, match=says):
            _parse_models(text, "models.yaml", None)
