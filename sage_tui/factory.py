"""Builds a session: settings → models → backends → LLM client → experts → orchestrator.

The CLI, the workbench and the tests all build sessions here, so they differ only in
what they pass in (a scripted backend for the demo and tests, record subscribers: the
workbench, the headless printer, tests; each gets every record exactly as it is logged).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sage_tui.config import Settings, load_models, load_settings
from sage_tui.core.agent.approval import Approver, ModeApprover
from sage_tui.core.agent.checkpoints import Checkpoints
from sage_tui.core.agent.codeflow import CodeFlow
from sage_tui.core.agent.experts import INSTRUCTION_FILES, Experts
from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.agent.orchestrator import Orchestrator
from sage_tui.core.agent.resume import History
from sage_tui.core.errors import UsageError
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.modelmap import ModelsConfig
from sage_tui.core.llm.routing import ModelRouter
from sage_tui.core.llm.types import ChatBackend
from sage_tui.core.log.emitting import emitter
from sage_tui.core.log.events import ErrorPayload, EventName, Mode, Sink
from sage_tui.core.log.recorder import Subscriber
from sage_tui.core.log.sessionlog import SessionLog
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.tools.builtin import builtin_tools
from sage_tui.core.tools.policy import load_policy
from sage_tui.core.tools.registry import ToolContext
from sage_tui.core.workspace.retrieval import RetrievalIndex
from sage_tui.core.workspace.state import workspace_state
from sage_tui.core.workspace.workspace import Workspace
from sage_tui.paths import sage_paths

BackendFactory = Callable[..., ChatBackend]  # (host) for Ollama; (host, "openai", key_env)


def ollama_backends() -> BackendFactory:
    """One backend per server, created on first use: `OllamaBackend`, or `OpenAIBackend` for
    a role with `api: openai` (its key read from the variable `api_key_env` names)."""
    cache: dict[str, ChatBackend] = {}

    def backend_for(host: str, api: str = "ollama", key_env: str | None = None) -> ChatBackend:
        key = f"{api} {host} {key_env or ''}"
        if key not in cache:
            if api == "openai":
                from sage_tui.core.llm.openai_backend import OpenAIBackend

                cache[key] = OpenAIBackend(host, os.environ.get(key_env) if key_env else None)
            else:
                from sage_tui.core.llm.ollama_backend import OllamaBackend

                cache[key] = OllamaBackend(host)
        return cache[key]

    backend_for.cache = cache  # type: ignore[attr-defined]
    return backend_for


def model_router(models: ModelsConfig, settings: Settings) -> ModelRouter:
    """The role → model router for these settings (forced tag, profile, default host)."""
    return ModelRouter(models, settings.ollama_host, force=settings.force_local_model,
                       profile=settings.model_profile)


def patch_engine(root: Path, audit_context: dict[str, Any] | None = None) -> PatchEngine:
    """The patch engine for a workspace, with its state in SAGE's state folder."""
    workspace = Workspace([root])
    return PatchEngine(workspace, workspace_state(sage_paths().state, workspace.root),
                       audit_context or {})


@dataclass
class Session:
    """Everything one running session owns."""

    settings: Settings
    models: ModelsConfig
    log: SessionLog
    llm: LLMClient
    orchestrator: Orchestrator
    telemetry: Any = None  # the OpenTelemetry exporter, when export is on
    state: Path | None = None  # SAGE's trusted folder for this workspace
    live: bool = False  # real model servers (not a scripted backend): the banner checks them

    async def aclose(self) -> None:
        cache = getattr(self.llm.backend_for, "cache", {})
        for backend in list(cache.values()):
            await backend.aclose()

    def close_log(self) -> None:
        if self.telemetry is not None:
            self.telemetry.close()  # at most a couple of seconds, whatever the collector does
        self.log.close()


def build_session(workspace: Path, *, settings: Settings | None = None,
                  models: ModelsConfig | None = None, backend_for: BackendFactory | None = None,
                  backend_label: str | None = None, subscribers: tuple[Subscriber, ...] = (),
                  read_timeout: float | None = None, remember: bool = True,
                  approver: Approver | None = None, mode: Mode | None = None) -> Session:
    """Open the session log and wire a ready-to-run orchestrator for `workspace`.

    `approver` answers research-mode checkpoints (the TUI's modals, terminal prompts);
    without one, checkpoints are approved as in auto mode. `subscribers` receive every
    record (numbered, stamped, redacted) as the session log writes it. `mode` is one the
    person asked for (`--mode`): a new session starts in it, a continued one switches to
    it after SESSION_RESUMED (else it keeps the mode it had).
    """
    settings = settings or load_settings()
    if mode is not None:
        settings = replace(settings, mode=mode)
    models = models or load_models()
    router = model_router(models, settings)
    policy = load_policy(settings.tool_policy)  # a bad policy file fails before anything runs
    log = SessionLog.open(sage_paths().sessions, session_id=settings.session_id, trace_id=settings.trace_id,
                          max_mb=settings.session_log_max_mb)
    for subscriber in subscribers:  # each gets every record as the log writes it
        log.subscribe(subscriber)
    telemetry, notices = _telemetry(settings, log)
    sink: Sink = log.sink
    factory = backend_for or ollama_backends()
    llm = LLMClient(router, factory, sink, max_prompt_chars=settings.max_prompt_chars_total,
                    read_timeout=read_timeout or settings.model_timeout,
                    redact_prompts=settings.redact_prompts)
    confined = Workspace([workspace], hidden=policy.hides)
    state = workspace_state(sage_paths().state, confined.root)
    memory = MemoryStore(state / "memory.json", sage_paths().data / "memory.json")
    instructions = (*INSTRUCTION_FILES, *((settings.instructions_file,)
                                          if settings.instructions_file else ()))
    index = RetrievalIndex(confined, state / "index.sqlite3")  # kept between processes
    experts = Experts(workspace, llm, sink, memory, index=index,
                      instruction_files=instructions, files=confined)
    profile = (f"force:{settings.force_local_model}" if settings.force_local_model
               else settings.model_profile)
    label = backend_label or (_served_by(router) if backend_for is None else "scripted model")
    engine = PatchEngine(confined, state, audit_context={
        "session_id": log.session_id, "trace_id": log.trace_id})
    tools = ToolContext(engine.workspace, test_command=settings.test_command)
    checkpoints = Checkpoints(sink, approver or ModeApprover(), settings.mode)
    code = CodeFlow(llm, sink, builtin_tools(), policy, engine, memory, tools, checkpoints)
    orchestrator = Orchestrator(workspace, llm, experts, sink, mode=settings.mode, profile=profile,
                                backend_label=label, remember=remember, code=code,
                                turn_timeout=settings.turn_timeout, notices=notices,
                                session_id=log.session_id, commit_setting=settings.commit)
    if log.continued:  # the same session again: carry on from its log
        try:
            orchestrator.restore(_history(log, confined.root))
            orchestrator.wanted_mode = mode
        except BaseException:
            log.close()
            raise
    return Session(settings, models, log, llm, orchestrator, telemetry, state,
                   live=backend_for is None)


def _served_by(router: ModelRouter) -> str:
    """The status line's word for the servers: ollama, openai-compatible, or both."""
    from sage_tui.core.log.events import ROLES

    apis = {router.primary(role).api for role in ROLES}
    return " + ".join(name for api, name in (("ollama", "ollama"),
                                             ("openai", "openai-compatible")) if api in apis)


def _history(log: SessionLog, root: Path) -> History:
    """What the session's log holds, for continuing it in `root`.

    Raises:
        UsageError: the session was recorded in another workspace.
    """
    import warnings

    from sage_tui.core.log.sessionlog import SessionLogCorrupt, TornTailWarning, read_session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)  # repaired when the log was opened
        try:
            history = History.read(read_session(log.session_id, log.directory))
        except (TypeError, ValueError, AttributeError) as exc:  # a record of the wrong shape
            raise SessionLogCorrupt(f"Session {log.session_id}'s log holds a damaged record "
                                    f"({exc}), so it cannot be continued; start a new "
                                    "session.") from None
    if history.workspace and Path(history.workspace).resolve() != root:
        raise UsageError(f"Session {log.session_id} was recorded in {history.workspace}, not "
                         f"here ({root}); continue it there, or start a new one here.")
    return history


def _telemetry(settings: Settings, log: SessionLog) -> tuple[Any, list[ErrorPayload]]:
    """The OpenTelemetry exporter, subscribed to the log's records, when an endpoint is set;
    else None. A set-up problem is a notice for the log, never a failed session."""
    from sage_tui.telemetry.otel import otel_config

    config = otel_config(os.environ, settings.otel_endpoint, settings.otel_headers,
                         settings.otel_capture_content)
    if config is None:
        return None, []
    try:
        from sage_tui.telemetry.spans import Exporter
    except ImportError:
        return None, [{"where": "otel", "kind": "export_unavailable",
                       "message": "An OpenTelemetry endpoint is set, but the exporter is not "
                                  "installed: install the `otel` extra (pip install "
                                  "'sage-workbench[otel]'), or unset OTEL_EXPORTER_OTLP_ENDPOINT."}]
    from sage_tui import __version__

    def warn(message: str) -> None:
        emitter(log.sink)(EventName.ERROR, {"where": "otel", "kind": "export_failed",
                                            "message": message})

    exporter = Exporter(config, __version__, warn)
    log.subscribe(exporter)
    return exporter, []
