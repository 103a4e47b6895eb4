"""Is the model server up, and does it have the models the roles will use?

One check, two callers: `sage doctor` prints it, and the workbench shows it in its
banner at start. Both get the same sentence for the same trouble.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sage_tui.core.llm.errors import LLMError, ModelFailed, ModelNotFound, ModelTimeout, ProtocolError
from sage_tui.core.llm.routing import ModelRouter
from sage_tui.core.llm.types import ChatBackend
from sage_tui.core.log.events import ROLES

HealthStatus = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class ServerHealth:
    """The answer: a status, one sentence, and the models the server has."""

    status: HealthStatus
    message: str
    pulled: list[str] = field(default_factory=list)


def missing_models(wanted: Iterable[str], pulled: Iterable[str]) -> list[str]:
    """The wanted tags a server lacks, sorted (`name` and `name:latest` are the same tag)."""
    have = set()
    for name in pulled:
        have |= {name, name.removesuffix(":latest")}
    return sorted(set(wanted) - have)


def lacks(missing: Sequence[str]) -> str:
    """"lacks a, b; run `ollama pull a` && `ollama pull b`", for an error sentence."""
    return (f"lacks {', '.join(missing)}; run "
            + " && ".join(f"`ollama pull {m}`" for m in missing))


async def check_server(backend: ChatBackend, host: str, wanted: Iterable[str],
                       timeout: float = 5.0) -> ServerHealth:
    """Ask the server at `host` for its models and compare them with `wanted`.

    Never raises for server trouble: an unreachable, silent or odd server is a `fail`
    with one sentence about the server (not about a model call).
    """
    not_ollama = (f"The server at {host} does not answer like Ollama; check that OLLAMA_HOST "
                  "points at an Ollama server.")
    try:
        models = await asyncio.wait_for(backend.list_models(), timeout)
    except (TimeoutError, ModelTimeout):
        return ServerHealth("fail", f"Ollama at {host} did not answer within {timeout:g} s; check "
                                    "that it is running and not stuck, or set OLLAMA_HOST.")
    except (ModelNotFound, ProtocolError, ModelFailed):
        return ServerHealth("fail", not_ollama)
    except LLMError as exc:
        return ServerHealth("fail", str(exc))
    names = sorted(model.name for model in models)
    if not names:
        return ServerHealth("warn", f"Ollama at {host} has no models; pull one, for example "
                                    "`ollama pull qwen2.5-coder:7b`.")
    missing = missing_models(wanted, names)
    if missing:
        return ServerHealth("warn", f"Ollama at {host} {lacks(missing)} (or pick other models "
                                    "in models.yaml).", names)
    return ServerHealth("ok", f"Ollama at {host} with {len(names)} models", names)


async def check_roles(router: ModelRouter, backend_for: Callable[[str], ChatBackend]
                      ) -> ServerHealth:
    """Check the default host for the models the roles will actually use there.

    A forced tag or a profile decides those models as it decides the calls.
    """
    host = router.default_host
    wanted = {choice.model for choice in (router.primary(role) for role in ROLES)
              if choice.host == host}
    return await check_server(backend_for(host), host, wanted)
