"""`sage doctor`: check the machine and say, in one sentence each, what to fix.

Each check returns a `Check` with a status: `ok`, `warn` (SAGE works, degraded) or
`fail` (something a user must fix). `sage doctor` exits 1 when any check fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sage_tui.config import load_models, load_settings, unknown_env
from sage_tui.configvalues import ConfigProblems, UiNames
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.health import ServerHealth, check_roles, check_server
from sage_tui.core.llm.hosts import BadHost, normalize_ollama_host
from sage_tui.core.llm.routing import ModelRouter
from sage_tui.core.llm.types import DescribesTokenizer, TokenizerInfo
from sage_tui.core.log.events import ROLES
from sage_tui.factory import model_router
from sage_tui.paths import sage_paths

Status = Literal["ok", "warn", "fail"]
TOKENIZER_TIMEOUT = 2.0  # seconds a server may take to show whether it counts tokens


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    message: str
    details: list[str] = field(default_factory=list)


def check_python() -> Check:
    # The package itself requires 3.11+, so reaching this line means the version is fine.
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "ok", f"Python {version} ({sys.executable})")


def check_git() -> Check:
    git = shutil.which("git")
    if git is None:
        return Check("git", "fail", "git was not found on PATH; install git, since SAGE works "
                                    "inside git repositories and applies patches with it.")
    try:
        out = subprocess.run([git, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("git", "fail", f"git at {git} does not run ({exc}); reinstall git.")
    return Check("git", "ok", out.stdout.strip() or git)


def _can_write(folder: Path) -> bool:
    """Whether a file can be made in `folder`: a probe made and removed at once (access
    bits do not tell, for root or on a read-only mount)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sage-doctor-"):
            return True
    except OSError:
        return False


def _writable(folder: Path) -> tuple[bool, str]:
    """Whether SAGE can write `folder`, or create it: (ok, how it stands). Creates no folder."""
    if folder.is_dir():
        return _can_write(folder), "exists"
    if folder.exists():
        return False, "is not a folder"
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        return False, "cannot be created"
    return _can_write(parent), f"will be created in {parent} on first use"


def check_folders(env: Mapping[str, str]) -> Check:
    """Whether SAGE's folders are writable, or creatable; the doctor only looks."""
    paths = sage_paths(env=env)
    problems = []
    details = []
    for name, folder in paths.all().items():
        ok, how = _writable(folder)
        details.append(f"{name}: {folder} ({how})")
        if not ok:
            problems.append(f"{name} folder {folder} ({how})")
    if problems:
        return Check("folders", "fail", f"SAGE cannot write to the {problems[0]}; set SAGE_HOME "
                                        "to a writable folder or fix its permissions.", details)
    where = f"under SAGE_HOME={env['SAGE_HOME']}" if env.get("SAGE_HOME") else "in the usual places"
    return Check("folders", "ok", f"config, data, state and cache are writable {where}", details)


def _sentences(exc: ConfigError) -> list[str]:
    """Each problem of a `ConfigProblems` on its own detail line, or the one sentence."""
    return exc.problems if isinstance(exc, ConfigProblems) else [str(exc)]


def check_config(env: Mapping[str, str], names: UiNames | None = None
                 ) -> tuple[Check, ModelRouter | None]:
    """Settings and models.yaml, every problem at once; also returns the role router the
    server check needs. `names` (the workbench's action ids and themes) checks `[keys]`
    and the theme too."""
    problems: list[str] = []
    settings = models = router = None
    try:
        settings = load_settings(env=env, names=names)
    except ConfigError as exc:
        problems += _sentences(exc)
    try:
        models = load_models(home=env.get("SAGE_HOME") or None)
        if settings is not None:
            router = model_router(models, settings)
    except ConfigError as exc:
        problems += _sentences(exc)
    if problems:
        if len(problems) == 1:
            return Check("config", "fail", problems[0]), None
        return Check("config", "fail", f"{len(problems)} problems in the configuration, each "
                                       "below; fix them all.", problems), None
    assert settings is not None and models is not None and router is not None
    typos = unknown_env(env)
    where = str(settings.config_file) if settings.config_file else "no config file, defaults"
    source = str(models.source) if models.source else "built-in models.yaml"
    details = []
    for role in ROLES:  # the models the calls will use: a forced tag or a profile decides
        choice = router.primary(role)
        why = {"force": " (SAGE_FORCE_LOCAL_MODEL)",
               "profile": f" (profile {settings.model_profile})"}.get(choice.reason, "")
        details.append(f"{role}: {choice.model}{why} (num_ctx {choice.num_ctx})")
    if typos:
        return Check("config", "warn", typos[0], details), router
    return (Check("config", "ok", f"mode {settings.mode}; {where}; models from {source}", details),
            router)


def check_ollama(router: ModelRouter | None, env: Mapping[str, str]) -> Check:
    """The server and the models the roles will use, as the workbench banner checks them."""
    try:
        host = normalize_ollama_host(env.get("OLLAMA_HOST"))
    except BadHost as exc:
        return Check("ollama", "fail", f"OLLAMA_HOST is set to {env.get('OLLAMA_HOST')!r}, but "
                     f"{exc}; try 127.0.0.1:11434.")
    health = asyncio.run(_check(router, host))
    return Check("ollama", health.status, health.message,
                 [f"pulled: {name}" for name in health.pulled])


async def _check(router: ModelRouter | None, host: str) -> ServerHealth:
    from sage_tui.factory import ollama_backends  # deferred: imports httpx

    backend_for = ollama_backends()
    try:
        if router is None:  # the configuration is broken: is the server there at all?
            return await check_server(backend_for(host), host, ())
        return await check_roles(router, backend_for)
    finally:
        for backend in getattr(backend_for, "cache", {}).values():
            await backend.aclose()


def check_tokenizer(router: ModelRouter | None) -> Check:
    """How each role's tokens will be counted before a call; never a warning (an estimate
    is a working state, and the servers' own counts stay the truth for usage)."""
    if router is None:
        return Check("tokenizer", "ok", "token counts before a call are estimates (the "
                                        "configuration did not load)")
    lines = asyncio.run(_counting(router))
    counted = [kind for _, (kind, _) in lines.values()]
    details = [f"{role}: {model}: {kind}{facts}" for role, (model, (kind, facts)) in lines.items()]
    summary = "; ".join(f"{counted.count(kind)} role(s) by {kind}"
                        for kind in (SERVER_COUNTS, CALIBRATED) if kind in counted)
    note = (" (the estimate errs high; each server's reported counts correct it after the "
            "first call)" if CALIBRATED in counted else "")
    return Check("tokenizer", "ok", f"token counts before a call: {summary}{note}", details)


SERVER_COUNTS = "the server's own tokenizer (/tokenize)"
CALIBRATED = "calibrated estimate"


def _how(info: TokenizerInfo) -> tuple[str, str]:
    """(how the model's tokens are counted, what else the server said)."""
    if info.counts:
        return SERVER_COUNTS, ""
    facts = [f"tokenizer {info.family}" if info.family else "",
             f"context {info.context_length:,}" if info.context_length else ""]
    known = ", ".join(fact for fact in facts if fact)
    return CALIBRATED, f" ({known})" if known else ""


async def _counting(router: ModelRouter) -> dict[str, tuple[str, tuple[str, str]]]:
    """role → (model, how its tokens are counted), asking each server once per model."""
    from sage_tui.factory import ollama_backends  # deferred: imports httpx

    backend_for = ollama_backends()
    answers: dict[tuple[str, str, str], tuple[str, str]] = {}
    lines: dict[str, tuple[str, tuple[str, str]]] = {}
    try:
        for role in ROLES:
            choice = router.primary(role)
            key = (choice.api, choice.host, choice.model)
            if key not in answers:
                backend = (backend_for(choice.host, "openai", choice.api_key_env)
                           if choice.api == "openai" else backend_for(choice.host))
                answers[key] = (_how(await backend.tokenizer_info(choice.model, TOKENIZER_TIMEOUT))
                                if isinstance(backend, DescribesTokenizer) else (CALIBRATED, ""))
            lines[role] = (choice.model, answers[key])
    finally:
        for backend in getattr(backend_for, "cache", {}).values():
            await backend.aclose()
    return lines


def run_checks(env: Mapping[str, str] | None = None,
               progress: Callable[[Check], None] | None = None,
               names: UiNames | None = None) -> list[Check]:
    """Run every check in order; `progress` sees each result as it arrives. `names` (the
    workbench's action ids and themes) lets the config check judge `[keys]` and the theme."""
    environ = dict(os.environ if env is None else env)
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if progress:
            progress(check)

    add(check_python())
    add(check_git())
    add(check_folders(environ))
    config, router = check_config(environ, names)
    add(config)
    add(check_ollama(router, environ))
    add(check_tokenizer(router))
    add(check_otel(environ))
    return checks


def check_otel(env: Mapping[str, str]) -> Check:
    """Whether traces are exported, and whether the collector answers."""
    import importlib.util

    from sage_tui.telemetry.otel import otel_config

    try:
        settings = load_settings(env=env)
    except ConfigError:
        settings = None
    config = otel_config(env, settings.otel_endpoint if settings else None,
                         settings.otel_headers if settings else None)
    if config is None:
        return Check("otel", "ok", "trace export off (set OTEL_EXPORTER_OTLP_ENDPOINT to send "
                                   "session traces to a collector)")
    if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        return Check("otel", "warn", f"traces should go to {config.endpoint}, but the exporter "
                                     "is not installed: pip install 'sage-workbench[otel]'")
    import httpx

    try:  # an empty export request: a collector answers 200 (or 4xx), never nothing
        reply = httpx.post(config.endpoint, content=b"", timeout=3.0, headers={
            "Content-Type": "application/x-protobuf", **config.headers})
    except httpx.HTTPError as exc:
        return Check("otel", "warn", f"traces go to {config.endpoint}, which does not answer "
                                     f"({type(exc).__name__}); turns are not slowed, the spans "
                                     "are dropped")
    content = "with" if config.capture_content else "without"
    verdict: Status = "ok" if reply.status_code < 400 else "warn"
    return Check("otel", verdict, f"exporting traces to {config.endpoint} ({content} prompt "
                                  f"text; the collector answered {reply.status_code})")


def session_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where session logs go (printed by the doctor for `jq` users)."""
    return sage_paths(env=env).sessions
