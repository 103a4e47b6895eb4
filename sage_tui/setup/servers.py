"""The roles `models.yaml` serves from OpenAI-compatible servers, for `sage prep`.

Such a role (`api: openai`, a `host` such as llama.cpp's `llama-server`, vLLM or LM Studio,
and an optional `api_key_env`) has nothing to pull: its model must be loaded on that
server. `sage prep` asks each server what it serves (`GET /v1/models`, with the key from
`api_key_env` when that variable is set) and says per role whether the model is there.
The key itself is never printed or stored; only the variable's name is.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sage_tui.core.llm.errors import LLMError, ModelTimeout
from sage_tui.core.llm.health import missing_models
from sage_tui.core.llm.routing import ModelChoice, ModelRouter
from sage_tui.core.llm.types import ChatBackend
from sage_tui.core.log.events import ROLES

LIST_TIMEOUT = 5.0  # seconds a server has to list its models


@dataclass(frozen=True)
class ServedRole:
    """One role on an OpenAI-compatible server: its model, and whether the server serves it
    (None when the server could not be asked)."""

    role: str
    model: str
    served: bool | None


@dataclass
class ServerReport:
    """What one OpenAI-compatible server said, for the roles that use it."""

    host: str
    api_key_env: str | None
    key_set: bool  # the variable api_key_env names is set (the key is sent)
    roles: list[ServedRole] = field(default_factory=list)
    serves: list[str] = field(default_factory=list)
    error: str | None = None  # one sentence: unreachable, key refused, not such a server

    @property
    def ok(self) -> bool:
        """Reachable, and every role's model is served."""
        return self.error is None and all(r.served for r in self.roles)

    def to_json(self) -> dict[str, Any]:
        return {"api": "openai", "host": self.host, "api_key_env": self.api_key_env,
                "key_set": self.key_set, "reachable": self.error is None,
                "error": self.error, "serves": self.serves,
                "roles": [asdict(r) for r in self.roles]}


def openai_roles(router: ModelRouter) -> dict[str, ModelChoice]:
    """The roles whose model (as routed: a profile or a forced tag included) sits on an
    OpenAI-compatible server, by role."""
    return {role: choice for role in ROLES
            if (choice := router.primary(role)).api == "openai"}


async def ask_servers(choices: Mapping[str, ModelChoice],
                      backend_for: Callable[..., ChatBackend],
                      env: Mapping[str, str] | None = None,
                      timeout: float = LIST_TIMEOUT) -> list[ServerReport]:
    """Ask each server the roles use what it serves. Never raises for server trouble:
    it becomes the report's one-sentence `error`."""
    environ = os.environ if env is None else env
    servers: dict[tuple[str, str | None], list[ModelChoice]] = {}
    for choice in choices.values():
        servers.setdefault((choice.host, choice.api_key_env), []).append(choice)
    reports = []
    for (host, key_env), on_it in servers.items():
        report = ServerReport(host, key_env, bool(key_env and environ.get(key_env)))
        try:
            listed = await asyncio.wait_for(backend_for(host, "openai", key_env).list_models(),
                                            timeout)
        except (TimeoutError, ModelTimeout):
            report.error = (f"The OpenAI-compatible server at {host} did not answer within "
                            f"{timeout:g} s; check that it is running and not stuck.")
        except LLMError as exc:  # ServerUnreachable, KeyRefused, ProtocolError ...
            report.error = str(exc)
        else:
            report.serves = sorted(model.name for model in listed)
        missing = set(missing_models((c.model for c in on_it), report.serves))
        report.roles = [ServedRole(c.role, c.model,
                                   None if report.error else c.model not in missing)
                        for c in on_it]
        reports.append(report)
    return reports


def describe(report: ServerReport) -> Iterable[str]:
    """The report as lines of text, one sentence for each thing to fix."""
    key = ("no key" if not report.api_key_env else
           f"key from ${report.api_key_env}" if report.key_set else
           f"${report.api_key_env} is not set, so no key is sent")
    yield f"OpenAI-compatible server at {report.host} ({key}):"
    if report.error:
        yield f"  {report.error}"
    else:
        yield f"  serves: {', '.join(report.serves) or 'no models'}"
    width = max((len(role.model) for role in report.roles), default=0)
    for role in report.roles:
        state = ("served" if role.served else "unknown (the server could not be asked)"
                 if role.served is None else "NOT served: load it on that server, or name one "
                 "it serves in models.yaml")
        yield f"  {role.role:<11} {role.model:<{width}}  {state}"
    yield "  Nothing to pull for these roles: the model must be loaded on that server."
