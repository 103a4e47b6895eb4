"""`OpenAIBackend`: model calls to an OpenAI-compatible server (llama.cpp's `llama-server`,
vLLM, SGLang, LM Studio), streamed over HTTP with `httpx`.

The same `ChatRequest` and `ChatChunk` as Ollama's: messages are translated (a tool call
gets an id and its arguments as a JSON string; a tool result names the call it answers),
`tools` are sent as they are (SAGE declares them in the OpenAI shape), a JSON schema
becomes `response_format`, and usage comes from the final chunk
(`stream_options.include_usage`). Tool calls arrive in pieces across chunks and are put
together by their index. Every failure is one typed `LLMError`: the server not reachable,
a key refused, a model not served, a server error, a stream cut mid-line.

Where the server offers it, `tokenize` counts tokens with the model's own tokenizer:
`POST /tokenize` beside `/v1` (llama.cpp's server takes `{"content"}` and answers
`{"tokens"}`; vLLM takes `{"model", "prompt"}` and answers `{"count"}`); which of the two
the server speaks is learned on the first answer.

The key, when the server needs one, is read from the environment variable `api_key_env`
names in `models.yaml`; it is never written anywhere.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from sage_tui.core.llm.errors import (
    KeyRefused,
    LLMError,
    ModelFailed,
    ModelTimeout,
    NotServed,
    ProtocolError,
    ServerUnreachable,
    ToolsUnsupported,
)
from sage_tui.core.llm.types import (
    ChatChunk,
    ChatRequest,
    Message,
    ModelInfo,
    TokenizerFailed,
    TokenizerInfo,
    TokenizerUnavailable,
    ToolCall,
)

CONNECT_TIMEOUT = 5.0
LIST_TIMEOUT = 10.0
OPTIONS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "stop": "stop",
           "num_predict": "max_tokens", "presence_penalty": "presence_penalty",
           "frequency_penalty": "frequency_penalty"}  # Ollama option → OpenAI field


_NOT_OFFERED = (404, 405, 501)
_PROBE_TEXT = "def hello(name):\n    return f'Hello, {name}!'"


def api_base(host: str) -> str:
    """`http://gpu:8080`, `http://gpu:8080/v1` and `gpu:8080` all mean its `/v1` API."""
    host = host.rstrip("/")
    if "://" not in host:
        host = f"http://{host}"
    return host if host.endswith("/v1") else f"{host}/v1"


class OpenAIBackend:
    """One OpenAI-compatible server."""

    label = "openai"

    def __init__(self, host: str, api_key: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.host = host
        self.connect_timeout = connect_timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=api_base(host), headers=headers,
                                         timeout=httpx.Timeout(LIST_TIMEOUT,
                                                               connect=connect_timeout))
        self._root = api_base(host).removesuffix("/v1")
        self._dialect: str | None = None  # "llama.cpp" or "vllm", once one answered

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = _body(request)
        timeout = httpx.Timeout(request.read_timeout, connect=self.connect_timeout)
        pieces: dict[int, dict[str, str]] = {}  # tool-call index → name, arguments so far
        finish, usage = None, None
        try:
            async with self._client.stream("POST", "/chat/completions", json=body,
                                           timeout=timeout,
                                           headers={"X-Sage-Role": request.role}) as reply:
                if reply.status_code != 200:
                    raise self._refused(reply.status_code, (await reply.aread()).decode(
                        "utf-8", "replace"), request.model, bool(request.tools))
                async for line in reply.aiter_lines():
                    event = _event(line, self.host)
                    if event is None:
                        continue
                    if isinstance(event, str):  # [DONE]
                        break
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        finish = choice.get("finish_reason") or finish
                        for call in delta.get("tool_calls") or []:
                            _gather(pieces, call)
                        if delta.get("content"):
                            yield ChatChunk(content=str(delta["content"]))
        except LLMError:
            raise
        except Exception as exc:
            raise self._translate(exc, request.model, request.role, request.read_timeout) \
                from exc
        yield ChatChunk(tool_calls=_calls(pieces, self.host), done=True,
                        done_reason="length" if finish == "length" else "stop",
                        prompt_eval_count=_count(usage, "prompt_tokens"),
                        eval_count=_count(usage, "completion_tokens"))

    async def list_models(self) -> list[ModelInfo]:
        try:
            reply = await self._client.get("/models")
        except Exception as exc:
            raise self._translate(exc, "", "admin", LIST_TIMEOUT) from exc
        if reply.status_code != 200:
            raise self._refused(reply.status_code, reply.text, "", False)
        try:
            listed = reply.json().get("data") or []
            return [ModelInfo(name=str(item["id"]),
                              context_length=item.get("meta", {}).get("n_ctx_train"))
                    for item in listed]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProtocolError(self.host, "a model list SAGE cannot read") from None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def tokenize(self, model: str, text: str, timeout: float) -> int:
        """Count `text`'s tokens with the server's `/tokenize` (see the module's note).

        Raises:
            TokenizerUnavailable: the server has no such endpoint, or cannot be reached.
            TokenizerFailed: it did not answer in `timeout` seconds, or failed this time.
        """
        bodies = {"llama.cpp": {"content": text},
                  "vllm": {"model": model, "prompt": text, "add_special_tokens": False}}
        limit = httpx.Timeout(timeout, connect=min(timeout, self.connect_timeout))
        for dialect in [self._dialect] if self._dialect else list(bodies):
            try:
                reply = await self._client.post(f"{self._root}/tokenize", json=bodies[dialect],
                                                timeout=limit)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise TokenizerUnavailable(f"{self.host} cannot be reached") from exc
            except httpx.HTTPError as exc:  # timeouts, connections cut: try again later
                raise TokenizerFailed(type(exc).__name__) from exc
            if reply.status_code in _NOT_OFFERED:
                raise TokenizerUnavailable(f"{self.host} has no /tokenize")
            if reply.status_code >= 500:
                raise TokenizerFailed(f"HTTP {reply.status_code}")
            count = _token_count(reply) if reply.status_code == 200 else None
            if count is not None and (count > 0 or not text.strip()):
                self._dialect = dialect
                return count
        raise TokenizerUnavailable(f"{self.host} answers /tokenize in a way SAGE cannot read")

    async def tokenizer_info(self, model: str, timeout: float) -> TokenizerInfo:
        """Whether the server counts tokens for `model` (one short text, to see)."""
        try:
            await self.tokenize(model, _PROBE_TEXT, timeout)
        except (TokenizerUnavailable, TokenizerFailed):
            return TokenizerInfo(counts=False)
        return TokenizerInfo(counts=True, family=self._dialect or "")

    def _refused(self, status: int, text: str, model: str, tools: bool) -> LLMError:
        detail = _error_text(text)
        if status in (401, 403):
            return KeyRefused(self.host, status)
        if status == 404:
            return NotServed(model, self.host, detail)
        if tools and status in (400, 500) and "tool" in detail.lower():
            return ToolsUnsupported(model)
        return ModelFailed(model, self.host, detail or f"HTTP {status}", status,
                           server="The server")

    def _translate(self, exc: Exception, model: str, role: str, seconds: float) -> LLMError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
            return ServerUnreachable(self.host)
        if isinstance(exc, httpx.TimeoutException):
            return ModelTimeout(model, role, seconds)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return ProtocolError(self.host, "the connection closed in the middle of a reply",
                                 server="an OpenAI-compatible server")
        if isinstance(exc, httpx.HTTPError):
            return ProtocolError(self.host, type(exc).__name__,
                                 server="an OpenAI-compatible server")
        return ProtocolError(self.host, f"{type(exc).__name__}: {exc}",
                             server="an OpenAI-compatible server")


def _body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "messages": openai_messages(request.messages),
                            "stream": True, "stream_options": {"include_usage": True}}
    for name, field in OPTIONS.items():
        if name in request.options:
            body[field] = request.options[name]
    if request.tools:
        body["tools"] = list(request.tools)
    if isinstance(request.format, Mapping):
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "reply", "schema": dict(request.format)}}
    elif request.format == "json":
        body["response_format"] = {"type": "json_object"}
    return body


def openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """SAGE's (Ollama-shaped) messages as the OpenAI API takes them."""
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (call id, tool name) not answered yet
    number = 0
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                number += 1
                function = call.get("function") or {}
                call_id = f"call_{number}"
                pending.append((call_id, str(function.get("name", ""))))
                calls.append({"id": call_id, "type": "function", "function": {
                    "name": function.get("name", ""),
                    "arguments": json.dumps(function.get("arguments") or {})}})
            out.append({"role": "assistant", "content": message.get("content") or None,
                        "tool_calls": calls})
        elif role == "tool":
            name = str(message.get("tool_name", ""))
            match = next((p for p in pending if p[1] == name), pending[0] if pending else None)
            if match is None:  # a result with no call to answer: say it as text
                out.append({"role": "user", "content": f"Result of {name}:\n"
                            + str(message.get("content", ""))})
                continue
            pending.remove(match)
            out.append({"role": "tool", "tool_call_id": match[0],
                        "content": str(message.get("content", ""))})
        else:
            out.append({"role": role, "content": message.get("content", "")})
    return out


def _event(line: str, host: str) -> dict[str, Any] | str | None:
    """One server-sent event line: its JSON, "[DONE]", or None for anything else."""
    if not line.startswith("data:"):
        return None  # blank lines, comments (": keep-alive"), "event:" lines
    data = line[5:].strip()
    if data == "[DONE]":
        return data
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ProtocolError(host, "a reply line was cut short",
                            server="an OpenAI-compatible server") from None
    if not isinstance(parsed, dict):
        raise ProtocolError(host, "a reply line that is not an object",
                            server="an OpenAI-compatible server")
    if parsed.get("error"):
        raise ModelFailed(str(parsed.get("model", "")), host, _error_text(json.dumps(parsed)),
                          -1, server="The server")
    return parsed


def _gather(pieces: dict[int, dict[str, str]], call: Mapping[str, Any]) -> None:
    index = int(call.get("index", len(pieces)))
    piece = pieces.setdefault(index, {"name": "", "arguments": ""})
    function = call.get("function") or {}
    piece["name"] += str(function.get("name") or "")
    piece["arguments"] += str(function.get("arguments") or "")


def _calls(pieces: dict[int, dict[str, str]], host: str) -> tuple[ToolCall, ...]:
    calls = []
    for _, piece in sorted(pieces.items()):
        try:
            arguments = json.loads(piece["arguments"] or "{}")
        except ValueError:
            raise ProtocolError(host, f"the arguments of a {piece['name']} call are not JSON",
                                server="an OpenAI-compatible server") from None
        calls.append(ToolCall(piece["name"], arguments if isinstance(arguments, dict) else {}))
    return tuple(calls)


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return int(value) if isinstance(value, int) else None


def _token_count(reply: httpx.Response) -> int | None:
    """`count` (vLLM) or the length of `tokens` (llama.cpp), from a `/tokenize` answer."""
    try:
        data = reply.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("count"), int):
        return int(data["count"])
    tokens = data.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _error_text(text: str) -> str:
    """The server's own message from an error body (`{"error": {"message": ...}}` and kin)."""
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:200]
    return str(error or data.get("message", "") if isinstance(data, dict) else "")[:200]
