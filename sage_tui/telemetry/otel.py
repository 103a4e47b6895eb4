"""OpenTelemetry export: the session's records as GenAI spans, sent over OTLP/HTTP.

One more subscriber of the recorder, so it sees exactly what the log holds (numbered and
redacted). Off unless an endpoint is set: the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
(or `..._TRACES_ENDPOINT`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, or
`otel_endpoint` / `otel_headers` in `config.toml`. The packages are the `otel` extra.

Spans follow the GenAI semantic conventions: one `invoke_agent sage` span per turn, a
`chat <model>` span per model call (`gen_ai.request.model`, `gen_ai.usage.input_tokens`,
`gen_ai.usage.output_tokens`, `gen_ai.conversation.id` = the session id) and an
`execute_tool <tool>` span per tool call, timed by the records' own timestamps. Prompt
and answer text go along only when the person opts in
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` or `otel_capture_content`),
and then as redacted as the log.

It never slows or fails a turn: building a span costs microseconds; spans go through a
bounded batch queue to a background thread; a collector that does not answer costs
nothing but one warning (an ERROR record, `where: otel`), and spans it cannot take are
dropped. Closing waits at most `CLOSE_SECONDS` for the last batch.

This module reads the settings; `spans.py` (which needs the packages) does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class OtelConfig:
    endpoint: str  # the traces URL (…/v1/traces)
    headers: Mapping[str, str]
    service_name: str = "sage"
    capture_content: bool = False


def _headers(text: str) -> dict[str, str]:
    """`k=v,k2=v2` (values URL-encoded), as the OTLP exporter variables write them."""
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    return {unquote(k).strip(): unquote(v).strip() for k, v in pairs}


def otel_config(environ: Mapping[str, str], endpoint: str | None = None,
                headers: str | None = None, capture_content: bool = False) -> OtelConfig | None:
    """The export settings from the standard variables, else the config file; None = off."""
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or (endpoint or "").strip()
    if not traces and not base:
        return None
    url = traces or base.rstrip("/") + "/v1/traces"
    header_text = (environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                   or environ.get("OTEL_EXPORTER_OTLP_HEADERS") or headers or "")
    capture = (environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").lower()
               in TRUE) or capture_content
    return OtelConfig(url, _headers(header_text),
                      environ.get("OTEL_SERVICE_NAME", "").strip() or "sage", capture)
