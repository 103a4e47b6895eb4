"""An Ollama-compatible server on 127.0.0.1 backed by llama.cpp (xllamacpp) and one GGUF file.

For the smoke run on machines where Ollama cannot be installed: SAGE's real client
talks Ollama's protocol to this server, which forwards to llama.cpp's own server
(started in-process by xllamacpp) and translates back: streamed NDJSON with the
counters on the final chunk, `format` (JSON or a schema) as a JSON-schema response
format so the router gets valid JSON, `options.num_predict` and `temperature`. The
model has no tool template, so a request with tools gets Ollama's own 400 "does not
support tools", and SAGE falls back to JSON tool calls in plain text.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

DEFAULT_MAX_TOKENS = 256  # Ollama's default is "until the context is full": too slow for a smoke run


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


def _messages(body: dict[str, Any], endpoint: str) -> list[dict[str, str]]:
    if endpoint == "generate":
        out = [{"role": "system", "content": str(body["system"])}] if body.get("system") else []
        return [*out, {"role": "user", "content": str(body.get("prompt") or "")}]
    out = []
    for message in body.get("messages") or []:
        role = message.get("role", "user")
        content = str(message.get("content") or "")
        if role == "tool":
            role, content = "user", f"Result of {message.get('tool_name', 'the tool')}:\n{content}"
        out.append({"role": role if role in ("system", "user", "assistant") else "user",
                    "content": content})
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LlamaOllamaServer

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _line(self, obj: Any) -> None:
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _tag(self) -> dict[str, Any]:
        name = self.server.model_name
        return {"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
                "size": self.server.gguf.stat().st_size, "digest": "sha256:" + "0" * 64,
                "details": {"format": "gguf", "family": name.split(":")[0],
                            "parameter_size": "", "quantization_level": ""}}

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json(200, {"version": "0.0.0-sage-llamacpp"})
        elif self.path in ("/api/tags", "/api/ps"):
            self._json(200, {"models": [self._tag()]})
        else:
            self._json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": "invalid JSON body"})
            return
        if self.path == "/api/show":
            self._json(200, {"details": self._tag()["details"], "capabilities": ["completion"],
                             "model_info": {"general.context_length": self.server.n_ctx}})
        elif self.path in ("/api/chat", "/api/generate"):
            self._generate(body, self.path.rsplit("/", 1)[-1])
        else:
            self._json(404, {"error": "404 page not found"})

    def _generate(self, body: dict[str, Any], endpoint: str) -> None:
        model = str(body.get("model") or "")
        if model not in (self.server.model_name, self.server.model_name.split(":")[0]):
            self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if body.get("tools"):
            self._json(400, {"error": f'"{model}" does not support tools'})
            return
        options = body.get("options") or {}
        request: dict[str, Any] = {
            "messages": _messages(body, endpoint),
            "max_tokens": options.get("num_predict") if isinstance(options.get("num_predict"), int)
            and options["num_predict"] > 0 else DEFAULT_MAX_TOKENS,
            "temperature": options.get("temperature", 0.2),
        }
        fmt = body.get("format")
        if fmt == "json":
            request["response_format"] = {"type": "json_object"}
        elif isinstance(fmt, dict):
            request["response_format"] = {"type": "json_schema", "json_schema": {"schema": fmt}}
        if body.get("stream", True) is False:
            self._whole(request, model, endpoint)
        else:
            self._stream(request, model, endpoint)

    def _piece(self, endpoint: str, text: str) -> dict[str, Any]:
        return {"response": text} if endpoint == "generate" else {
            "message": {"role": "assistant", "content": text}}

    def _whole(self, request: dict[str, Any], model: str, endpoint: str) -> None:
        try:
            answer = httpx.post(f"{self.server.upstream}/v1/chat/completions", json=request,
                                timeout=self.server.timeout).json()
            text = answer["choices"][0]["message"].get("content") or ""
            usage = answer.get("usage") or {}
            reason = answer["choices"][0].get("finish_reason") or "stop"
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            self._json(500, {"error": f"llama.cpp failed: {exc}"})
            return
        self._json(200, {"model": model, "created_at": _now(), **self._piece(endpoint, text),
                         "done": True, "done_reason": reason,
                         "prompt_eval_count": usage.get("prompt_tokens", 0),
                         "eval_count": usage.get("completion_tokens", 0)})

    def _stream(self, request: dict[str, Any], model: str, endpoint: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        usage: dict[str, Any] = {}
        reason = "stop"
        try:
            with httpx.stream("POST", f"{self.server.upstream}/v1/chat/completions",
                              json={**request, "stream": True,
                                    "stream_options": {"include_usage": True}},
                              timeout=self.server.timeout) as upstream:
                for raw in upstream.iter_lines():
                    if not raw.startswith("data: ") or raw == "data: [DONE]":
                        continue
                    event = json.loads(raw[6:])
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            self._line({"model": model, "created_at": _now(),
                                        **self._piece(endpoint, text), "done": False})
                        reason = choice.get("finish_reason") or reason
        except (httpx.HTTPError, ValueError) as exc:
            self._line({"error": f"llama.cpp failed: {exc}"})
        else:
            self._line({"model": model, "created_at": _now(), **self._piece(endpoint, ""),
                        "done": True, "done_reason": reason,
                        "prompt_eval_count": usage.get("prompt_tokens", 0),
                        "eval_count": usage.get("completion_tokens", 0)})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class LlamaOllamaServer(ThreadingHTTPServer):
    """Start with `with LlamaOllamaServer(gguf) as server:`; `server.host` is for OLLAMA_HOST.

    It serves one model, named `model_name` (with or without its `:tag`). `quiet` silences
    llama.cpp's own log; `chat_template` names one of llama.cpp's built-in templates
    ("gemma", "chatml", ...) for a GGUF without its own (llama.cpp falls back to chatml).
    """

    daemon_threads = True

    def __init__(self, gguf: Path, model_name: str = "gemma3:270m", n_ctx: int = 4096,
                 threads: int = 2, port: int = 0, timeout: float = 300.0,
                 quiet: bool = False, chat_template: str | None = None) -> None:
        import xllamacpp  # the binding is only needed here

        params = xllamacpp.CommonParams()
        if quiet:  # llama.cpp logs every slot and timing on stderr; a benchmark prints figures
            params.verbosity = -1
        if chat_template:  # one of llama.cpp's built-in names, for a GGUF that carries none
            params.chat_template = chat_template
            params.use_jinja = False
        params.model.path = str(gguf)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        self.llama = xllamacpp.Server(params)
        self.upstream = str(self.llama.listening_address).rstrip("/")
        self.gguf = gguf
        self.model_name = model_name
        self.n_ctx = n_ctx
        self.timeout = timeout
        super().__init__(("127.0.0.1", port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def start(self) -> LlamaOllamaServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.1})
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        del self.llama  # stops llama.cpp's own server and frees the model

    def __enter__(self) -> LlamaOllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
