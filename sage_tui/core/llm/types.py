"""What a model call is made of, independent of who serves it.

A `ChatBackend` turns a `ChatRequest` into a stream of `ChatChunk`s. Two backends
exist: `OllamaBackend` (the official client over HTTP) and `ScriptedBackend` (a
scenario played in-process, used by `sage demo` and tests). Everything above them
(routing, token accounting, events) is the same for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
