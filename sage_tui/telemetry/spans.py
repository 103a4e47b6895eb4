"""The span pipeline behind `otel.py`: records → GenAI spans → batch queue → OTLP/HTTP.

Imported only when export is on (it needs the `otel` extra).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from sage_tui.core.log.events import EventName
from sage_tui.core.log.recorder import Record
from sage_tui.telemetry.otel import OtelConfig

CLOSE_SECONDS = 2.0
EXPORT_TIMEOUT = 5.0
QUEUE_SIZE = 2048


def _ns(record: Record) -> int | None:
    try:
        return int(datetime.fromisoformat(str(record["ts"])).timestamp() * 1e9)
    except (KeyError, ValueError):
        return None


class SpanBuilder:
    """A record subscriber that turns records into spans (no I/O: the processor sends)."""

    def __init__(self, tracer: Tracer, capture_content: bool) -> None:
        self.tracer = tracer
        self.capture = capture_content
        self.turn: Span | None = None
        self.turn_context: Any = None
        self.calls: dict[str, Span] = {}
        self.tools: dict[str, Span] = {}

    def __call__(self, record: Record) -> None:
        handler = self._handlers.get(str(record.get("event")))
        if handler is not None:
            data = record.get("data")
            handler(self, record, data if isinstance(data, dict) else {}, _ns(record))

    # -- turns ------------------------------------------------------------------------
    def _user(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        self._end_turn(t)
        self.turn = self.tracer.start_span("invoke_agent sage", start_time=t, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "sage",
            "gen_ai.conversation.id": str(record.get("session_id") or ""),
            "sage.turn": int(record.get("turn") or 0)})
        if self.capture:
            self.turn.add_event("gen_ai.user.message", {"content": str(data.get("text", ""))},
                                timestamp=t)
        self.turn_context = trace.set_span_in_context(self.turn)

    def _route(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        if self.turn is not None:
            self.turn.set_attribute("sage.route", str(data.get("route", "")))

    def _answer(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        if self.turn is not None and self.capture:
            self.turn.add_event("gen_ai.assistant.message",
                                {"content": str(data.get("text", ""))}, timestamp=t)
        self._end_turn(t)

    def _error(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        if self.turn is not None and data.get("where") != "otel":
            self.turn.set_status(Status(StatusCode.ERROR, str(data.get("message", ""))[:500]))
            self.turn.set_attribute("error.type", str(data.get("kind", "error")))

    def _cancelled(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        if self.turn is not None:
            self.turn.set_status(Status(StatusCode.ERROR, "cancelled"))
            self.turn.set_attribute("error.type", "cancelled")
        self._end_turn(t)

    def _ended(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        for span in [*self.calls.values(), *self.tools.values()]:
            span.end(t)
        self.calls.clear()
        self.tools.clear()
        self._end_turn(t)

    def _end_turn(self, t: int | None) -> None:
        if self.turn is not None:
            self.turn.end(t)
            self.turn = None  # later background calls stay children of the ended turn

    # -- model calls ------------------------------------------------------------------
    def _routed(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        model = str(data.get("model", ""))
        host = urlsplit(str(data.get("host", "")))
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "ollama",
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": str(record.get("session_id") or ""),
            "sage.role": str(data.get("role", "")), "sage.reason": str(data.get("reason", ""))}
        if host.hostname:
            attributes["server.address"] = host.hostname
            if host.port:
                attributes["server.port"] = host.port
        self.calls[str(data.get("call_id"))] = self.tracer.start_span(
            f"chat {model}", context=self.turn_context, kind=SpanKind.CLIENT, start_time=t,
            attributes=attributes)

    def _usage(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        span = self.calls.pop(str(data.get("call_id")), None)
        if span is None:
            return
        span.set_attribute("gen_ai.response.model", str(data.get("model", "")))
        span.set_attribute("gen_ai.usage.input_tokens", int(data.get("prompt_tokens") or 0))
        span.set_attribute("gen_ai.usage.output_tokens", int(data.get("completion_tokens") or 0))
        if data.get("failed"):
            span.set_status(Status(StatusCode.ERROR, str(data["failed"])[:500]))
            span.set_attribute("error.type", str(data["failed"])[:100])
        span.end(t)

    # -- tools ------------------------------------------------------------------------
    def _tool(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        name = str(data.get("tool", ""))
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": str(data.get("call_id", "")),
            "gen_ai.conversation.id": str(record.get("session_id") or "")}
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = json.dumps(data.get("args"),
                                                                  ensure_ascii=False)
        self.tools[str(data.get("call_id"))] = self.tracer.start_span(
            f"execute_tool {name}", context=self.turn_context, kind=SpanKind.INTERNAL,
            start_time=t, attributes=attributes)

    def _tool_done(self, record: Record, data: dict[str, Any], t: int | None) -> None:
        span = self.tools.pop(str(data.get("call_id")), None)
        if span is None:
            return
        if record.get("event") == EventName.TOOL_ERROR:
            span.set_status(Status(StatusCode.ERROR, str(data.get("message", ""))[:500]))
            span.set_attribute("error.type", str(data.get("kind", "error")))
        span.end(t)

    _handlers: ClassVar[dict[str, Callable[[SpanBuilder, Record, dict[str, Any], int | None],
                                           None]]] = {
        EventName.USER_MESSAGE: _user, EventName.ROUTE_DECISION: _route,
        EventName.ASSISTANT_MESSAGE: _answer, EventName.ERROR: _error,
        EventName.TURN_CANCELLED: _cancelled, EventName.SESSION_ENDED: _ended,
        EventName.MODEL_ROUTING_DECISION: _routed, EventName.TOKEN_USAGE: _usage,
        EventName.TOOL_CALL: _tool, EventName.TOOL_RESULT: _tool_done,
        EventName.TOOL_ERROR: _tool_done,
    }


def _quiet() -> None:
    """The SDK's own log lines would draw over the workbench: SAGE reports failures itself."""
    logger = logging.getLogger("opentelemetry")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


class Exporter:
    """The export pipeline of one session: builder → batch processor → OTLP/HTTP."""

    def __init__(self, config: OtelConfig, version: str,
                 warn: Callable[[str], None] = lambda message: None) -> None:
        _quiet()
        self.config = config
        self.provider = TracerProvider(resource=Resource.create({
            "service.name": config.service_name, "service.version": version}))
        exporter = OTLPSpanExporter(endpoint=config.endpoint, headers=dict(config.headers),
                                    timeout=EXPORT_TIMEOUT)
        self.reporting = _Reporting(exporter, config.endpoint, warn)
        self.processor = BatchSpanProcessor(self.reporting,
                                            max_queue_size=QUEUE_SIZE,
                                            export_timeout_millis=int(EXPORT_TIMEOUT * 1000))
        self.provider.add_span_processor(self.processor)
        self.builder = SpanBuilder(self.provider.get_tracer("sage_tui", version),
                                   config.capture_content)

    def __call__(self, record: Record) -> None:
        self.builder(record)

    def close(self) -> None:
        """Send what is queued, waiting at most CLOSE_SECONDS (a dead collector loses it)."""
        worker = threading.Thread(target=self.provider.shutdown, name="sage-otel-close",
                                  daemon=True)
        worker.start()
        worker.join(0.1 if self.reporting.warned else CLOSE_SECONDS)  # a dead one: no wait


class _Reporting(SpanExporter):
    """Wraps the OTLP exporter: the first failure becomes one warning, later ones are quiet
    (the batch is dropped; the next batch tries again)."""

    def __init__(self, inner: SpanExporter, endpoint: str, warn: Callable[[str], None]) -> None:
        self.inner, self.endpoint, self.warn = inner, endpoint, warn
        self.warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # the exporter's bug must not end the worker thread
            result, reason = SpanExportResult.FAILURE, str(exc)
        else:
            reason = "it did not accept them"
        if result is not SpanExportResult.SUCCESS and not self.warned:
            self.warned = True
            with contextlib.suppress(Exception):  # a closing session: not worth a crash
                self.warn(f"Traces could not be sent to {self.endpoint} ({reason}); they are "
                          "dropped while it does not answer. Turns are not affected.")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
