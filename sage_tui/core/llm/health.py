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
                       timeout: float = 5.0, api: str = "ollama") -> ServerHealth:
    """Ask the server at `host` for its models and compare them with `wanted`.

    Never raises for server trouble: an unreachable, silent or odd server is a `fail`
    with one sentence about the server (not about a model call).
    """
    name = "Ollama" if api == "ollama" else "The OpenAI-compatible server"
    not_it = (f"The server at {host} does not answer like Ollama; check that OLLAMA_HOST "
              "points at an Ollama server." if api == "ollama" else
              f"The server at {host} does not answer like an OpenAI-compatible server (GET "
              "/v1/models); check the role's host in models.yaml.")
    try:
        models = await asyncio.wait_for(backend.list_models(), timeout)
    except (TimeoutError, ModelTimeout):
        return ServerHealth("fail", f"{name} at {host} did not answer within {timeout:g} s; "
                                    "check that it is running and not stuck.")
    except (ModelNotFound, ProtocolError, ModelFailed):
        return ServerHealth("fail", not_it)
    except LLMError as exc:
        return ServerHealth("fail", str(exc))
    names = sorted(model.name for model in models)
    if not names:
        return ServerHealth("warn", f"{name} at {host} has no models; "
                            + ("pull one, for example `ollama pull qwen2.5-coder:7b`."
                               if api == "ollama" else "start it with one."))
    missing = missing_models(wanted, names)
    if missing:
        fix = lacks(missing) if api == "ollama" else (
            f"does not serve {', '.join(missing)}; it serves {', '.join(names[:5])}")
        return ServerHealth("warn", f"{name} at {host} {fix} (or pick other models in "
                                    "models.yaml).", names)
    return ServerHealth("ok", f"{name} at {host} with {len(names)} models", names)


async def check_roles(router: ModelRouter, backend_for: Callable[..., ChatBackend]
                      ) -> ServerHealth:
    """Check every server the roles use (the default Ollama host first) for the models the
    roles will actually use there; the worst answer wins.

    A forced tag or a profile decides those models as it decides the calls.
    """
    servers: dict[tuple[str, str, str | None], set[str]] = {
        ("ollama", router.default_host, None): set()}
    for choice in (router.primary(role) for role in ROLES):
        servers.setdefault((choice.api, choice.host, choice.api_key_env), set()).add(choice.model)
    worst: ServerHealth | None = None
    for (api, host, key_env), wanted in servers.items():
        if api == "ollama" and not wanted and len(servers) > 1:
            continue  # no role uses the default Ollama host
        backend = backend_for(host, "openai", key_env) if api == "openai" else backend_for(host)
        health = await check_server(backend, host, wanted, api=api)
        rank = {"ok": 0, "warn": 1, "fail": 2}
        if worst is None or rank[health.status] > rank[worst.status]:
            worst = health
    assert worst is not None
    return worst
