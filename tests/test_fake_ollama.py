"""The fake server speaks Ollama's protocol to the real `ollama` client.

If these fail, tests built on the fake server prove nothing about real Ollama, so
they check the wire format itself, not just that the client parsed something.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import ollama
import pytest

from tests.fake_ollama import FakeOllamaServer

Start = Callable[..., FakeOllamaServer]

SCENARIO: dict[str, Any] = {
    "models": [{"name": "coder:7b", "context_length": 32768},
               {"name": "tiny:1b", "capabilities": ["completion"], "parameter_size": "1B"}],
    "rules": [
        {"when": {"contains": "weather"},
         "reply": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}]}},
        {"when": {"has_format": True}, "reply": {"json": {"kind": "qa", "experts": ["git"]}}},
        {"when": {"endpoint": "generate"}, "reply": {"content": "gen one two", "eval_count": 3}},
        {"when": {}, "reply": {"content": "Hello from the fake model", "chunks": 3,
                               "prompt_eval_count": 26, "eval_count": 6}},
    ],
}


def raw_stream(server: FakeOllamaServer, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.Client() as client, client.stream("POST", server.url + path, json=body) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in r.iter_lines() if line]


def test_streaming_chat_puts_counters_only_on_the_final_chunk(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    lines = raw_stream(server, "/api/chat", {"model": "coder:7b", "messages": [
        {"role": "user", "content": "hi"}]})
    *parts, final = lines
    assert "".join(p["message"]["content"] for p in parts) == "Hello from the fake model"
    assert len(parts) == 3 and all(p["done"] is False for p in parts)
    for part in parts:
        assert "prompt_eval_count" not in part and "done_reason" not in part
    assert final["done"] is True and final["done_reason"] == "stop"
    assert (final["prompt_eval_count"], final["eval_count"]) == (26, 6)
    assert final["message"] == {"role": "assistant", "content": ""}


def test_real_client_streams_and_reads_counters(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    client = ollama.Client(host=server.host)
    parts = list(client.chat(model="coder:7b", messages=[{"role": "user", "content": "hi"}],
                             stream=True, options={"num_ctx": 4096}))
    assert "".join(p.message.content or "" for p in parts) == "Hello from the fake model"
    assert parts[-1].prompt_eval_count == 26 and parts[-1].eval_count == 6
    assert server.requests[-1].body["options"] == {"num_ctx": 4096}


def test_non_streaming_chat_is_one_object(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    response = ollama.Client(host=server.host).chat(
        model="coder:7b", messages=[{"role": "user", "content": "hi"}], stream=False)
    assert response.message.content == "Hello from the fake model"
    assert response.done and response.done_reason == "stop" and response.eval_count == 6


def test_tool_calls_carry_arguments_as_an_object(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    lines = raw_stream(server, "/api/chat", {"model": "coder:7b", "messages": [
        {"role": "user", "content": "weather in Oslo?"}], "tools": [{"type": "function"}]})
    calls = [c for line in lines for c in line.get("message", {}).get("tool_calls", [])]
    assert calls == [{"function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}}]
    response = ollama.Client(host=server.host).chat(
        model="coder:7b", messages=[{"role": "user", "content": "weather?"}])
    call = response.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Oslo",
                                                                               "days": 2}


def test_structured_output_is_a_json_string_in_content(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    schema = {"type": "object", "properties": {"kind": {"type": "string"}}}
    response = ollama.Client(host=server.host).chat(
        model="coder:7b", messages=[{"role": "user", "content": "route me"}], format=schema)
    assert json.loads(response.message.content or "") == {"kind": "qa", "experts": ["git"]}
    assert server.requests[-1].body["format"] == schema


def test_generate_streams_response_pieces(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    parts = list(ollama.Client(host=server.host).generate(model="coder:7b", prompt="x",
                                                          stream=True))
    assert "".join(p.response for p in parts) == "gen one two"
    assert parts[-1].done and parts[-1].eval_count == 3
    whole = ollama.Client(host=server.host).generate(model="coder:7b", prompt="x")
    assert whole.response == "gen one two"


def test_tags_show_ps_version_and_pull(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    client = ollama.Client(host=server.host)
    assert [m.model for m in client.list().models] == ["coder:7b", "tiny:1b"]
    shown = client.show("coder:7b")
    assert shown.capabilities == ["completion", "tools"]
    assert shown.modelinfo is not None and shown.modelinfo["coder.context_length"] == 32768
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("nope:1b")
    assert missing.value.status_code == 404
    client.chat(model="coder:7b", messages=[{"role": "user", "content": "hi"}])
    assert [m.model for m in client.ps().models] == ["coder:7b"]
    assert httpx.get(server.url + "/api/version").json() == {"version": "0.12.6"}
    progress = list(client.pull("new:3b", stream=True))
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    assert any(p.total and p.completed == p.total for p in progress)
    assert "new:3b" in [m.model for m in client.list().models]


def test_unknown_model_is_a_404_with_ollamas_words(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.host).chat(model="missing:7b", messages=[])
    assert caught.value.status_code == 404
    assert caught.value.error == 'model "missing:7b" not found, try pulling it first'


def test_tools_on_a_model_without_them_is_a_400(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.host).chat(
            model="tiny:1b", messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "f"}}])
    assert caught.value.status_code == 400 and "does not support tools" in caught.value.error


@pytest.mark.parametrize("fault,exception", [
    ("error_500", ollama.ResponseError),
    ("stream_error", ollama.ResponseError),
    ("truncated", json.JSONDecodeError),
    ("blank_line", json.JSONDecodeError),
])
def test_faults_reach_the_real_client_as_ollama_would_send_them(
        fake_ollama: Start, fault: str, exception: type[Exception]) -> None:
    server = fake_ollama({"rules": [{"when": {}, "fault": fault, "after_chunks": 1,
                                     "reply": "one two three"}]})
    client = ollama.Client(host=server.host)
    with pytest.raises(exception):
        list(client.chat(model="any", messages=[{"role": "user", "content": "x"}], stream=True))


def test_a_stall_ends_at_the_clients_read_timeout(fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [{"when": {}, "fault": "stall"}]}, stall_seconds=30)
    client = ollama.Client(host=server.host, timeout=0.3)
    with pytest.raises(httpx.ReadTimeout):
        client.chat(model="any", messages=[{"role": "user", "content": "x"}])


def test_requests_are_recorded_with_role_headers(fake_ollama: Start) -> None:
    server = fake_ollama(SCENARIO)
    ollama.Client(host=server.host, headers={"X-Sage-Role": "router"}).chat(
        model="coder:7b", messages=[{"role": "user", "content": "hi"}])
    [recorded] = server.chat_requests("router")
    assert recorded.body["messages"] == [{"role": "user", "content": "hi"}]
    assert server.chat_requests("coder") == []


def test_unmatched_request_is_a_500_naming_the_gap(fake_ollama: Start) -> None:
    server = fake_ollama({"rules": [{"when": {"role": "router"}, "reply": "x"}]})
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=server.host).chat(model="m", messages=[{"role": "user",
                                                                   "content": "q"}])
    assert caught.value.status_code == 500 and "has no reply" in caught.value.error


def test_runs_as_a_script(tmp_path: Any) -> None:
    import subprocess
    import sys
    import time

    scenario = tmp_path / "s.yaml"
    scenario.write_text("rules:\n  - when: {}\n    reply: scripted hello\n")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_ollama", str(scenario), "--port",
                             str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "fake Ollama on" in proc.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                reply = ollama.Client(host=f"127.0.0.1:{port}").chat(
                    model="m", messages=[{"role": "user", "content": "x"}])
                break
            except ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert reply.message.content == "scripted hello"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
