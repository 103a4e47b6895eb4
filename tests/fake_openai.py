"""A fake OpenAI-compatible server on 127.0.0.1: `/v1/models` and streamed
`/v1/chat/completions`, as llama.cpp's server and vLLM speak them (server-sent events, usage
in the final chunk), with the faults a real one has: a refused key, an unknown model, a
server error, a stream cut in the middle of a line, a tool call split over chunks.

`tokenizer` says what `POST /tokenize` does: `None` answers 404 (LM Studio, SGLang without
it), `"llama.cpp"` takes `{"content"}` and answers `{"tokens"}`, `"vllm"` takes `{"model",
"prompt"}` (400 otherwise) and answers `{"count", "tokens"}`, `"hang"` never answers until
the server stops. Its count is `fake_tokens`, on purpose unlike SAGE's estimate."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def fake_tokens(text: str) -> int:
    """The fake tokenizer's count: one token per 3 characters."""
    return max(1, len(text) // 3)


@dataclass
class Reply:
    content: str = ""
    tool: tuple[str, dict[str, Any]] | None = None  # (name, arguments): split over chunks
    fault: str | None = None  # 401, 404, 500, "cut"
    prompt_tokens: int = 21
    completion_tokens: int = 7


@dataclass
class FakeOpenAI:
    models: tuple[str, ...] = ("gemma-3-270m",)
    key: str | None = None
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    tokenizer: str | None = None  # None (404), "llama.cpp", "vllm", "hang"
    tokenized: list[dict[str, Any]] = field(default_factory=list)  # /tokenize bodies
    release: threading.Event = field(default_factory=threading.Event)  # ends a "hang"
    hanging: threading.Event = field(default_factory=threading.Event)  # a /tokenize is held

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allowed(self) -> bool:
                if fake.key and self.headers.get("Authorization") != f"Bearer {fake.key}":
                    self._send(401, {"error": {"message": "Invalid API Key",
                                               "type": "authentication_error"}})
                    return False
                return True

            def _tokenize(self, body: dict[str, Any]) -> None:
                if fake.tokenizer == "hang":
                    fake.hanging.set()
                    fake.release.wait(30)
                    with contextlib.suppress(OSError):  # the client gave up long ago
                        self._send(503, {"error": {"message": "stopped"}})
                elif fake.tokenizer == "llama.cpp" and "content" in body:
                    self._send(200, {"tokens": list(range(fake_tokens(body["content"])))})
                elif fake.tokenizer == "vllm" and "prompt" in body:
                    count = fake_tokens(body["prompt"])
                    self._send(200, {"count": count, "tokens": list(range(count)),
                                     "max_model_len": 32768})
                elif fake.tokenizer == "vllm":
                    self._send(400, {"object": "error", "message": "Field required: prompt"})
                else:
                    self._send(404, {"error": {"message": "File Not Found"}})

            def do_GET(self) -> None:
                if not self._allowed():
                    return
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": name, "object": "model"} for name in fake.models]})
                else:
                    self._send(404, {"error": {"message": "File Not Found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/tokenize":
                    fake.tokenized.append({**body, "authorization":
                                           self.headers.get("Authorization")})
                    if self._allowed():
                        self._tokenize(body)
                    return
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self._allowed():
                    return
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "File Not Found"}})
                    return
                if body.get("model") not in fake.models:
                    self._send(404, {"error": {"message": f"model {body.get('model')!r} not found",
                                               "type": "not_found_error"}})
                    return
                reply = fake.replies.pop(0) if fake.replies else Reply("Hello.")
                if reply.fault in ("401", "500"):
                    self._send(int(reply.fault), {"error": {"message": "llama runner crashed"
                                                            if reply.fault == "500" else "no"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in fake.events(body["model"], reply):
                    self.wfile.write(event)
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self, model: str, reply: Reply) -> Iterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(data)}\n\n".encode()

        yield b": keep-alive\n\n"
        words = reply.content.split(" ")
        for n, word in enumerate(words):
            if word or n == 0:
                yield chunk({"content": word + (" " if n < len(words) - 1 else "")})
            if reply.fault == "cut" and n == 0:
                yield b'data: {"id": "c1", "choi'
                return
        if reply.tool is not None:
            name, arguments = reply.tool
            text = json.dumps(arguments)
            half = len(text) // 2
            yield chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                         "function": {"name": name, "arguments": text[:half]}}]})
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": text[half:]}}]})
        yield chunk({}, "tool_calls" if reply.tool else "stop")
        usage = {"prompt_tokens": reply.prompt_tokens,
                 "completion_tokens": reply.completion_tokens,
                 "total_tokens": reply.prompt_tokens + reply.completion_tokens}
        yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
