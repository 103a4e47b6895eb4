"""OpenTelemetry export against a real receiver: an OTLP/HTTP endpoint in this process decodes
the protobuf with `opentelemetry-proto` and checks the span tree and its GenAI attributes. A turn
that plants secrets shows none in any span; a dead collector costs the turn nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # the dev extra has it
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sage_tui.config import Settings
from sage_tui.core.llm.scripted import Scenario, ScriptedBackend
from sage_tui.factory import build_session
from tests.conftest import git_repo
from tests.helpers import as_events

TOKEN = "gh" + "p_" + "Zx81Qa" * 6


class Receiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver: every span it is sent, decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Any] = []
        self.resources: list[dict[str, Any]] = []
        self.got = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @classmethod
    @contextlib.contextmanager
    def serving(cls) -> Iterator[Receiver]:
        """A receiver answering on its own thread until the block ends."""
        server = cls()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server
        finally:
            server.shutdown()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        server: Receiver = self.server  # type: ignore[assignment]
        assert self.path == "/v1/traces"
        for resource_spans in request.resource_spans:
            server.resources.append({a.key: a.value.string_value
                                     for a in resource_spans.resource.attributes})
            for scope in resource_spans.scope_spans:
                server.spans.extend(scope.spans)
        server.got.set()
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver.serving() as server:
        yield server


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for a in span.attributes:
        value = a.value
        out[a.key] = value.string_value if value.HasField("string_value") else value.int_value
    return out


def code_turn(tmp_path: Path, endpoint: str, capture: bool = False) -> list[Any]:
    repo = git_repo(tmp_path / "repo", {"notes.txt": f"deploy token {TOKEN}\n"})
    backend = ScriptedBackend(Scenario.load({"rules": [
        {"when": {"role": "router"}, "reply": {"json": {"kind": "code", "reasoningText": "x",
                                                        "experts": []}}},
        {"when": {"role": "planner"}, "reply": {"json": {"steps": ["read notes.txt"]}}},
        {"when": {"role": "coder", "has_tools": True}, "times": 1, "reply": {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "notes.txt"}}]}},
        {"when": {"role": "coder"}, "reply": f"The token is {TOKEN}."},
    ]}))
    events: list[Any] = []
    session = build_session(repo, settings=Settings(mode="auto", force_local_model="m:7b",
                                                    otel_endpoint=endpoint,
                                                    otel_capture_content=capture),
                            backend_for=lambda h: backend, subscribers=(as_events(events),),
                            remember=False)
    orchestrator = session.orchestrator

    async def run() -> None:
        orchestrator.start()
        await orchestrator.run_turn("what is in notes.txt?")
        await orchestrator.finish("ok")

    try:
        asyncio.run(run())
    finally:
        session.close_log()
    return events


def test_a_turn_becomes_a_genai_span_tree(tmp_path: Path, receiver: Receiver) -> None:
    events = code_turn(tmp_path, receiver.endpoint, capture=True)
    assert receiver.got.wait(10), "no spans arrived"
    by_name: dict[str, list[Any]] = {}
    for span in receiver.spans:
        by_name.setdefault(span.name, []).append(span)
    [turn] = by_name["invoke_agent sage"]
    chats = [s for name, spans in by_name.items() if name.startswith("chat ") for s in spans]
    [tool] = by_name["execute_tool read_file"]
    assert len(chats) == 4  # router, planner, coder asking for the tool, coder answering
    assert all(c.parent_span_id == turn.span_id for c in chats)
    assert tool.parent_span_id == turn.span_id and turn.parent_span_id == b""
    chat = attrs(chats[0])
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.request.model"] == "m:7b"
    assert chat["gen_ai.usage.input_tokens"] > 0 and "gen_ai.usage.output_tokens" in chat
    conversation = {attrs(s)["gen_ai.conversation.id"] for s in receiver.spans}
    assert len(conversation) == 1 and conversation.pop()
    assert attrs(tool)["gen_ai.tool.name"] == "read_file"
    assert receiver.resources[0]["service.name"] == "sage"
    assert [e for e in events if str(e.name) == "ASSISTANT_MESSAGE"]
    everything = str([(s.name, s.attributes, s.events) for s in receiver.spans])
    assert "the token is" in everything.lower()  # content was opted in ...
    assert "Zx81QaZx81Qa" not in everything  # ... and is redacted like the log


def test_without_opting_in_no_text_is_exported(tmp_path: Path, receiver: Receiver) -> None:
    code_turn(tmp_path, receiver.endpoint)
    assert receiver.got.wait(10)
    everything = str([(s.name, s.attributes, s.events) for s in receiver.spans])
    assert "what is in notes.txt" not in everything and "The token" not in everything


def test_a_dead_collector_costs_the_turn_nothing_and_warns_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    start = time.monotonic()
    events = code_turn(tmp_path, dead)
    took = time.monotonic() - start
    assert [e for e in events if str(e.name) == "ASSISTANT_MESSAGE"]
    warned = [e.data for e in events if str(e.name) == "ERROR" and e.data["where"] == "otel"]
    assert len(warned) <= 1 and not [e for e in events if str(e.name) == "ERROR"
                                     and e.data["where"] != "otel"]
    assert took < 30  # closing waits at most a couple of seconds for the last batch


def test_the_standard_variables_turn_export_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_tui.telemetry.otel import otel_config

    assert otel_config({}) is None
    config = otel_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
                          "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,x=1",
                          "OTEL_SERVICE_NAME": "team-sage"})
    assert config is not None and config.endpoint == "http://collector:4318/v1/traces"
    assert dict(config.headers) == {"api-key": "a b", "x": "1"}
    assert config.service_name == "team-sage" and not config.capture_content
    traces = otel_config({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom",
                          "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"})
    assert traces is not None and traces.endpoint == "http://c:4318/custom"
    assert traces.capture_content
    assert json.dumps(dict(traces.headers)) == "{}"


def test_doctor_says_whether_export_is_on_and_reachable(receiver: Receiver) -> None:
    from sage_tui.setup.doctor import check_otel

    assert check_otel({}).message.startswith("trace export off")
    on = check_otel({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
    assert on.status == "ok" and f"exporting traces to {receiver.endpoint}/v1/traces" in on.message
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    off = check_otel({"OTEL_EXPORTER_OTLP_ENDPOINT": dead})
    assert off.status == "warn" and "does not answer" in off.message
