"""`OllamaBackend`: model calls through the official `ollama.AsyncClient`.

Every way the client can fail is turned into one typed `LLMError`, including what it
lets through untranslated: `httpx.ConnectError` on streaming calls, `httpx` timeouts,
and a bare `json.JSONDecodeError` when a stream line is cut short or blank.

Ollama has no tokenize endpoint (proposals to add one are open, none released), so its
models' tokens are estimated and calibrated by its `prompt_eval_count`; `/api/show` says
which tokenizer a model has and its context length, for `sage doctor`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import ollama
import pydantic

from sage_tui.core.llm.errors import (
    LLMError,
    ModelFailed,
    ModelNotFound,
    ModelTimeout,
    OllamaUnreachable,
    ProtocolError,
    ToolsUnsupported,
)
from sage_tui.core.llm.types import ChatChunk, ChatRequest, ModelInfo, TokenizerInfo, ToolCall

CONNECT_TIMEOUT = 5.0
LIST_TIMEOUT = 10.0


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process (httpx would load the
    system's certificates again for each client: about 30 ms apiece)."""
    return ssl.create_default_context()


class OllamaBackend:
    """One Ollama server. Keeps a client per (role, read timeout) so each request
    carries an `X-Sage-Role` header (ignored by Ollama, useful in proxies and tests)."""

    label = "ollama"

    def __init__(self, host: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.host = host
        self.connect_timeout = connect_timeout
        self._clients: dict[tuple[str, float], ollama.AsyncClient] = {}

    def _client(self, role: str, read_timeout: float) -> ollama.AsyncClient:
        key = (role, read_timeout)
        client = self._clients.get(key)
        if client is None:
            timeout = httpx.Timeout(read_timeout, connect=self.connect_timeout)
            client = ollama.AsyncClient(host=self.host, timeout=timeout,
                                        headers={"X-Sage-Role": role}, verify=tls_context())
            self._clients[key] = client
        return client

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        client = self._client(request.role, request.read_timeout)
        try:
            fmt: Any = dict(request.format) if isinstance(request.format, Mapping) else request.format
            stream = await client.chat(
                model=request.model,
                messages=list(request.messages),
                tools=list(request.tools) if request.tools else None,
                stream=True,
                format=fmt,
                options=dict(request.options),
            )
            async for part in stream:
                yield _chunk(part)
        except LLMError:
            raise
        except Exception as exc:
            translated = self._translate(exc, request.model, request.role, request.read_timeout)
            if translated is None:
                raise
            raise translated from exc

    async def list_models(self) -> list[ModelInfo]:
        client = self._client("admin", LIST_TIMEOUT)
        try:
            listed = await client.list()
        except Exception as exc:
            translated = self._translate(exc, "", "admin", LIST_TIMEOUT)
            if translated is None:
                raise
            raise translated from exc
        models = []
        for item in listed.models:
            details = item.details
            models.append(ModelInfo(
                name=str(item.model), size=int(item.size or 0),
                parameter_size=str(details.parameter_size or "") if details else "",
                quantization=str(details.quantization_level or "") if details else "",
            ))
        return models

    async def tokenizer_info(self, model: str, timeout: float) -> TokenizerInfo:
        """What `/api/show` says of the model's tokenizer; Ollama never counts by itself."""
        try:
            shown = await asyncio.wait_for(self._client("admin", timeout).show(model), timeout)
        except (TimeoutError, ollama.ResponseError, httpx.HTTPError, ConnectionError,
                pydantic.ValidationError):
            return TokenizerInfo(counts=False)
        info = dict(shown.modelinfo or {})
        family = "/".join(str(info[key]) for key in ("tokenizer.ggml.model",
                                                     "general.architecture") if info.get(key))
        length = next((value for key, value in info.items()
                       if key.endswith(".context_length") and isinstance(value, int)), None)
        return TokenizerInfo(counts=False, family=family, context_length=length)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()  # type: ignore[no-untyped-call]
        self._clients.clear()

    def _translate(self, exc: Exception, model: str, role: str,
                   seconds: float) -> LLMError | None:
        if isinstance(exc, ollama.ResponseError):
            message = str(exc.error)
            if exc.status_code == 404:
                return ModelNotFound(model, self.host)
            if exc.status_code == 400 and "does not support tools" in message:
                return ToolsUnsupported(model)
            return ModelFailed(model, self.host, message, exc.status_code)
        if isinstance(exc, ConnectionError | httpx.ConnectError | httpx.ConnectTimeout):
            return OllamaUnreachable(self.host)
        if isinstance(exc, httpx.TimeoutException):
            return ModelTimeout(model, role, seconds)
        if isinstance(exc, json.JSONDecodeError):
            detail = "an empty reply line" if not exc.doc.strip() else "a reply line was cut short"
            return ProtocolError(self.host, detail)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            early = "without sending" in str(exc)
            return ProtocolError(self.host, "the connection closed before any reply" if early
                                 else "the connection closed in the middle of a reply")
        if isinstance(exc, pydantic.ValidationError):
            return ProtocolError(self.host, "a reply with unexpected fields")
        if isinstance(exc, httpx.HTTPError):
            return ProtocolError(self.host, type(exc).__name__)
        return None


def _chunk(part: Any) -> ChatChunk:
    message = part.message
    calls = tuple(
        ToolCall(str(call.function.name), dict(call.function.arguments or {}))
        for call in (message.tool_calls or [])
    )
    return ChatChunk(
        content=message.content or "",
        tool_calls=calls,
        done=bool(part.done),
        done_reason=part.done_reason,
        prompt_eval_count=part.prompt_eval_count,
        eval_count=part.eval_count,
    )
