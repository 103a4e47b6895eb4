"""What a model call is made of, independent of who serves it.

A `ChatBackend` turns a `ChatRequest` into a stream of `ChatChunk`s. Two backends
exist: `OllamaBackend` (the official client over HTTP) and `ScriptedBackend` (a
scenario played in-process, used by `sage demo` and tests). Everything above them
(routing, token accounting, events) is the same for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]  # {"role": "user", "content": "..."} as Ollama takes it


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked for, with its arguments as an object."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    """One call to a model. `role` is SAGE's role; it is not part of Ollama's API."""

    model: str
    messages: Sequence[Message]
    options: Mapping[str, Any]
    role: str = "coder"
    tools: Sequence[Mapping[str, Any]] | None = None
    format: str | Mapping[str, Any] | None = None
    read_timeout: float = 120.0


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed reply. Counters and `done_reason` come on the last one."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """A model a server has pulled."""

    name: str
    size: int = 0
    parameter_size: str = ""
    quantization: str = ""
    context_length: int | None = None
    capabilities: tuple[str, ...] = field(default_factory=tuple)


class ChatBackend(Protocol):
    """Something that can serve chat calls for one host."""

    label: str  # shown to the user: "ollama" or "demo model"
    host: str

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Stream the reply to `request`; raise an `LLMError` on failure."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """The models this host has pulled."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class TokenizerUnavailable(Exception):
    """The server offers no tokenizer for this model (no endpoint, or it cannot be reached):
    remembered, and the estimate used from then on."""


class TokenizerFailed(Exception):
    """The tokenizer did not answer this time (a timeout, a server error): estimate now, ask
    again later."""


@dataclass(frozen=True)
class TokenizerInfo:
    """What a server says about a model's tokenizer (`sage doctor` reports it)."""

    counts: bool  # the server counts tokens itself (its tokenize endpoint answered)
    family: str = ""  # the tokenizer's kind, e.g. "gpt2/qwen2" from Ollama's /api/show
    context_length: int | None = None


@runtime_checkable
class Tokenizes(Protocol):
    """A backend whose server may count tokens with the model's own tokenizer."""

    async def tokenize(self, model: str, text: str, timeout: float) -> int:
        """The number of tokens in `text` for `model`.

        Raises:
            TokenizerUnavailable: the server offers no tokenizer (remember it).
            TokenizerFailed: no answer this time (a timeout, a server error).
        """
        ...


@runtime_checkable
class DescribesTokenizer(Protocol):
    """A backend that can say how a model's tokens can be counted."""

    async def tokenizer_info(self, model: str, timeout: float) -> TokenizerInfo:
        """Ask the server; never raises for server trouble (it says `counts=False`)."""
        ...
