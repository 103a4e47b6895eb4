"""`sage doctor`: check the machine and say, in one sentence each, what to fix.

Each check returns a `Check` with a status: `ok`, `warn` (SAGE works, degraded) or
`fail` (something a user must fix). `sage doctor` exits 1 when any check fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sage_tui.config import (
    load_models,
    load_settings,
    normalize_ollama_host,
    unknown_env,
)
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm import tokenfiles
from sage_tui.core.llm.modelmap import ModelsConfig
from sage_tui.core.llm.routing import lacks, missing_models
from sage_tui.paths import sage_paths

Status = Literal["ok", "warn", "fail"]


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


def check_folders(env: Mapping[str, str]) -> Check:
    paths = sage_paths(env=env)
    problems = []
    for name, folder in paths.all().items():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".sage-doctor-"):
                pass
        except OSError as exc:
            problems.append(f"{name} folder {folder} ({exc.strerror or exc})")
    if problems:
        return Check("folders", "fail", f"Cannot write to the {problems[0]}; set SAGE_HOME to a "
                                        "writable folder or fix its permissions.")
    details = [f"{name}: {folder}" for name, folder in paths.all().items()]
    where = f"under SAGE_HOME={env['SAGE_HOME']}" if env.get("SAGE_HOME") else "in the usual places"
    return Check("folders", "ok", f"config, data, state and cache are writable {where}", details)


def check_config(env: Mapping[str, str]) -> tuple[Check, ModelsConfig | None, str]:
    """Settings and models.yaml; also returns what the Ollama check needs."""
    host = env.get("OLLAMA_HOST") or ""
    try:
        settings = load_settings(env=env)
        models = load_models(home=env.get("SAGE_HOME") or None)
    except ConfigError as exc:
        return Check("config", "fail", str(exc)), None, host
    typos = unknown_env(env)
    where = str(settings.config_file) if settings.config_file else "no config file, defaults"
    source = str(models.source) if models.source else "built-in models.yaml"
    details = [f"{role}: {spec.model} (num_ctx {spec.num_ctx})" for role, spec in models.roles.items()]
    if typos:
        return Check("config", "warn", typos[0], details), models, settings.ollama_host
    return (Check("config", "ok", f"mode {settings.mode}; {where}; models from {source}", details),
            models, settings.ollama_host)


def check_ollama(host: str, models: ModelsConfig | None, timeout: float = 3.0) -> Check:
    import httpx  # deferred: only the doctor and the model client need it


    base = normalize_ollama_host(host)
    try:
        with httpx.Client(base_url=base, timeout=timeout, trust_env=False) as client:
            version = client.get("/api/version").json().get("version", "?")
            tags = client.get("/api/tags").json().get("models", [])
    except httpx.HTTPError:
        return Check("ollama", "fail", f"Ollama is not reachable at {base}; start it with "
                                       "`ollama serve`, or set OLLAMA_HOST to where it runs.")
    except ValueError:
        return Check("ollama", "fail", f"The server at {base} does not answer like Ollama; "
                                       "check that OLLAMA_HOST points at an Ollama server.")
    names = sorted(str(m.get("name") or m.get("model")) for m in tags if isinstance(m, dict))
    details = [f"pulled: {name}" for name in names]
    if not names:
        return Check("ollama", "warn", f"Ollama {version} at {base} has no models; pull one, "
                                       "for example `ollama pull qwen2.5-coder:7b`.")
    if models is not None:
        missing = missing_models((spec.model for spec in models.roles.values()), names)
        if missing:
            return Check("ollama", "warn", f"Ollama {version} at {base} {lacks(missing)}.",
                         details)
    return Check("ollama", "ok", f"Ollama {version} at {base} with {len(names)} models", details)


def check_tokenizer(env: Mapping[str, str]) -> Check:
    files = tokenfiles.check(env)
    missing = [f.name for f in files if not f.valid]
    folder = tokenfiles.cache_dir(env)
    if missing:
        return Check("tokenizer", "warn",
                     f"tiktoken's {' and '.join(missing)} files are not in {folder}, so token counts "
                     "before a call are estimates (SAGE never downloads them); set "
                     "TIKTOKEN_CACHE_DIR to a folder holding them.")
    return Check("tokenizer", "ok", f"tiktoken files present in {folder}")


def run_checks(env: Mapping[str, str] | None = None,
               progress: Callable[[Check], None] | None = None) -> list[Check]:
    """Run every check in order; `progress` sees each result as it arrives."""
    environ = dict(os.environ if env is None else env)
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if progress:
            progress(check)

    add(check_python())
    add(check_git())
    add(check_folders(environ))
    config, models, host = check_config(environ)
    add(config)
    add(check_ollama(host, models))
    add(check_tokenizer(environ))
    return checks


def session_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where session logs go (printed by the doctor for `jq` users)."""
    return sage_paths(env=env).sessions
