"""A fake Ollama server for tests: real HTTP on 127.0.0.1, replies from a scripted scenario.

It speaks what the official `ollama` client expects: `/api/chat` and `/api/generate`
(NDJSON streaming with counters and `done_reason` only on the final chunk, or one JSON
object when `stream` is false), `/api/tags`, `/api/show`, `/api/ps`, `/api/version`,
`/api/pull` (progress lines), tool calls with `arguments` as an object, and structured
output (the JSON string in `message.content`). Fault modes come from the scenario's
rules (see `sage_tui.core.llm.scripted`). Every request is recorded.

    python -m tests.fake_ollama SCENARIO.yaml [--port 11434]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sage_tui.core.llm.scripted import RequestView, Rule, Scenario, ScenarioExhausted

VERSION = "0.12.6"
STALL_SECONDS = 60.0
# /api/pull's layers (digest, bytes, progress lines): the weights, then small template,
# licence and parameter blobs, as a real model's manifest lists them.
PULL_LAYERS = (("sha256:" + "a" * 64, 3_000_000, 4), ("sha256:" + "b" * 64, 1_500_000, 2),
               ("sha256:" + "c" * 64, 500, 1))


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeOllamaServer

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Go's net/http (and so Ollama) sets TCP_NODELAY; without it small NDJSON lines
        # meet delayed ACKs and every call gains ~40 ms that real Ollama does not have.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing ------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"_raw": raw.decode("utf-8", "replace")}
        return data if isinstance(data, dict) else {"_raw": data}

    def _record(self, body: dict[str, Any]) -> None:
        with self.server.lock:
            self.server.requests.append(Recorded(self.command, self.path,
                                                 {k.lower(): v for k, v in self.headers.items()},
                                                 body))

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _line(self, obj: Any) -> None:
        self._chunk(json.dumps(obj).encode() + b"\n")

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(2)

    # -- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record({})
        scenario = self.server.scenario
        if self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            self._json(200, {"models": [self._tag(m.name) for m in scenario.models]})
        elif self.path == "/api/ps":
            self._json(200, {"models": [
                {**self._tag(name), "expires_at": "2099-01-01T00:00:00Z", "size_vram": 0}
                for name in sorted(self.server.loaded)]})
        else:
            self._json(404, {"error": "404 page not found"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self._body()
        self._record(body)
        if self.path == "/api/chat":
            self._generate(body, "chat")
        elif self.path == "/api/generate":
            self._generate(body, "generate")
        elif self.path == "/api/show":
            self._show(body)
        elif self.path == "/api/pull":
            self._pull(body)
        else:
            self._json(404, {"error": "404 page not found"})

    def _tag(self, name: str) -> dict[str, Any]:
        spec = self.server.scenario.model(name)
        assert spec is not None
        return {"name": spec.name, "model": spec.name, "modified_at": "2026-11-01T00:00:00Z",
                "size": spec.size, "digest": "sha256:" + "0" * 64,
                "details": {"format": "gguf", "family": spec.name.split(":")[0],
                            "families": [spec.name.split(":")[0]],
                            "parameter_size": spec.parameter_size,
                            "quantization_level": spec.quantization}}

    def _show(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        spec = self.server.scenario.model(name)
        if spec is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        family = spec.name.split(":")[0]
        self._json(200, {
            "modelfile": f"FROM {spec.name}\n", "parameters": "", "template": "{{ .Prompt }}",
            "details": self._tag(spec.name)["details"],
            "model_info": {"general.architecture": family,
                           "general.parameter_count": 7_615_616_512,
                           f"{family}.context_length": spec.context_length},
            "capabilities": list(spec.capabilities),
        })

    def _pull(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        self.server.scenario.add_model(name)
        if body.get("stream") is False:
            self._json(200, {"status": "success"})
            return
        self._start_stream()
        self._line({"status": "pulling manifest"})
        for digest, total, _ in PULL_LAYERS:  # as Ollama does: each layer counts on its own
            self._line({"status": f"pulling {digest[7:19]}", "digest": digest, "total": total})
        for digest, total, steps in PULL_LAYERS:
            for step in range(1, steps + 1):
                self._line({"status": f"pulling {digest[7:19]}", "digest": digest,
                            "total": total, "completed": total * step // steps})
        for status in ("verifying sha256 digest", "writing manifest", "success"):
            self._line({"status": status})
        self._end_stream()

    def _generate(self, body: dict[str, Any], endpoint: str) -> None:
        model = str(body.get("model") or "")
        scenario = self.server.scenario
        if endpoint == "chat":
            messages = list(body.get("messages") or [])
        else:
            messages = ([{"role": "system", "content": body["system"]}] if body.get("system")
                        else []) + [{"role": "user", "content": str(body.get("prompt") or "")}]
        view = RequestView(role=self.headers.get("X-Sage-Role", ""), model=model, messages=messages,
                           has_tools=bool(body.get("tools")), has_format=body.get("format") is not None,
                           endpoint=endpoint)
        if not scenario.has_model(model):
            self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        try:
            rule = scenario.take(view)
        except ScenarioExhausted as exc:
            self._json(500, {"error": str(exc)})
            return
        spec = scenario.model(model)
        if body.get("tools") and spec is not None and "tools" not in spec.capabilities:
            self._json(400, {"error": f'"{model}" does not support tools'})
            return
        if self._fault_before(rule, model):
            return
        self.server.loaded.add(model)
        if body.get("stream", True) is False:
            self._whole(rule, model, messages, endpoint)
        else:
            self._stream(rule, model, messages, endpoint)

    def _fault_before(self, rule: Rule, model: str) -> bool:
        fault = rule.fault
        if fault == "refused":
            self._abort()
        elif fault == "not_found":
            self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
        elif fault == "no_tools":
            self._json(400, {"error": f'"{model}" does not support tools'})
        elif fault == "error_500":
            self._json(500, {"error": "llama runner process has terminated: exit status 2"})
        elif fault == "stall" and rule.after_chunks == 0:
            self.server.stopping.wait(self.server.stall_seconds)
            self._abort()
        else:
            return False
        return True

    def _message(self, endpoint: str, content: str, calls: list[dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
        if endpoint == "generate":
            return {"response": content}
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        return {"message": message}

    def _final(self, rule: Rule, model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        assert rule.reply is not None
        prompt, completion = rule.reply.counters(messages)
        return {"model": model, "created_at": _now(), "done": True,
                "done_reason": rule.reply.done_reason, "total_duration": 1_000_000,
                "load_duration": 100_000, "prompt_eval_count": prompt,
                "prompt_eval_duration": 200_000, "eval_count": completion,
                "eval_duration": 700_000}

    def _calls(self, rule: Rule) -> list[dict[str, Any]]:
        assert rule.reply is not None
        return [{"function": {"name": c.name, "arguments": dict(c.arguments)}}
                for c in rule.reply.tool_calls]

    def _whole(self, rule: Rule, model: str, messages: list[dict[str, Any]], endpoint: str) -> None:
        if rule.reply is None or rule.fault:
            self._json(500, {"error": "an error was encountered while running the model"})
            return
        body = {"model": model, "created_at": _now(),
                **self._message(endpoint, rule.reply.content, self._calls(rule))}
        self._json(200, {**body, **self._final(rule, model, messages)})

    def _stream(self, rule: Rule, model: str, messages: list[dict[str, Any]], endpoint: str) -> None:
        reply = rule.reply
        pieces = reply.pieces() if reply else []
        self._start_stream()
        for index, piece in enumerate([*pieces, None]):
            if rule.fault and index == min(rule.after_chunks, len(pieces)):
                self._mid_stream_fault(rule, model)
                return
            if piece is None:
                break
            if reply is not None and reply.delay_ms:
                time.sleep(reply.delay_ms / 1000)
            self._line({"model": model, "created_at": _now(), **self._message(endpoint, piece),
                        "done": False})
        assert reply is not None
        if reply.tool_calls:
            self._line({"model": model, "created_at": _now(),
                        **self._message(endpoint, "", self._calls(rule)), "done": False})
        self._line({**self._final(rule, model, messages), **self._message(endpoint, "")})
        self._end_stream()

    def _mid_stream_fault(self, rule: Rule, model: str) -> None:
        if rule.fault == "stream_error":
            self._line({"error": "an error was encountered while running the model: unexpected EOF"})
            self._end_stream()
        elif rule.fault == "truncated":
            self._chunk(b'{"model":"' + model.encode() + b'","created_at":"2026')
            self._end_stream()
        elif rule.fault == "blank_line":
            self._chunk(b"\n")
            self._end_stream()
        elif rule.fault == "stall":
            self.server.stopping.wait(self.server.stall_seconds)
            self._abort()
        else:
            self._abort()


class FakeOllamaServer(ThreadingHTTPServer):
    """The server; use as a context manager or `start()` / `stop()`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, scenario: Scenario, port: int = 0, stall_seconds: float = STALL_SECONDS) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.scenario = scenario
        self.requests: list[Recorded] = []
        self.loaded: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.stall_seconds = stall_seconds
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, cancelled stream) leaves a broken pipe behind:
        # that is the test working, not a server fault worth printing.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, as OLLAMA_HOST takes it."""
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def chat_requests(self, role: str | None = None) -> list[Recorded]:
        """Recorded `/api/chat` requests, optionally of one role."""
        with self.lock:
            return [r for r in self.requests if r.path == "/api/chat"
                    and (role is None or r.headers.get("x-sage-role") == role)]

    def start(self) -> FakeOllamaServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def __enter__(self) -> FakeOllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a scripted scenario as a fake Ollama.")
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--port", type=int, default=11434)
    args = parser.parse_args()
    server = FakeOllamaServer(Scenario.load(args.scenario), port=args.port)
    print(f"fake Ollama on {server.url} playing {args.scenario}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
