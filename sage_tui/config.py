"""Settings (`SAGE_*` variables over `config.toml`) and the role → model map (`models.yaml`).

Precedence, highest first: command-line flags (applied by the CLI), environment
variables, the config file, built-in defaults. Nothing is read at import time.

Every mistake a user can make here raises `ConfigError` with one sentence naming
the file (or variable), the key, what is wrong and, where it helps, a suggestion.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_tui.configvalues import ConfigProblems, UiNames, at_line, parse_value, toml_lines, ui_problems
from sage_tui.configvalues import suggest as _suggest
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.hosts import DEFAULT_OLLAMA_HOST, BadHost, normalize_ollama_host, openai_host
from sage_tui.core.llm.modelmap import EDIT_FORMATS, ModelsConfig, RoleModel
from sage_tui.core.log.events import ROLES, Mode
from sage_tui.core.log.ids import DEFAULT_MAX_MB
from sage_tui.paths import sage_paths


@dataclass(frozen=True)
class Settings:
    """Everything configurable that is not the model map."""

    mode: Mode = "research"
    model_profile: str | None = None
    force_local_model: str | None = None
    max_prompt_chars_total: int = 60_000
    tool_policy: str = "workspace_write"
    session_log_max_mb: float = DEFAULT_MAX_MB
    session_id: str | None = None
    trace_id: str | None = None
    ollama_host: str = DEFAULT_OLLAMA_HOST
    model_timeout: float = 120.0
    turn_timeout: float = 600.0
    redact_prompts: str = "auto"  # auto: redact prompts for model hosts off this machine
    otel_endpoint: str | None = None  # OTLP/HTTP base URL; OTEL_EXPORTER_OTLP_ENDPOINT wins
    otel_headers: str | None = None  # k=v,k2=v2; OTEL_EXPORTER_OTLP_HEADERS wins
    otel_capture_content: bool = False  # prompt and answer text in spans (redacted)
    theme: str = "textual-dark"
    test_command: str | None = None
    instructions_file: str | None = None  # more project conventions, besides AGENTS.md
    commit: str = "ask"  # after an applied, tested change: off, ask (the workbench), auto
    keys: Mapping[str, str] = field(default_factory=dict)
    config_file: Path | None = None


# setting → (environment variable or None, parser); the file uses the setting's name.
_ENV: dict[str, str] = {
    "mode": "SAGE_MODE",
    "model_profile": "SAGE_MODEL_PROFILE",
    "force_local_model": "SAGE_FORCE_LOCAL_MODEL",
    "max_prompt_chars_total": "SAGE_MAX_PROMPT_CHARS_TOTAL",
    "tool_policy": "SAGE_TOOL_POLICY",
    "session_log_max_mb": "SAGE_SESSION_LOG_MAX_MB",
    "session_id": "SAGE_SESSION_ID",
    "trace_id": "SAGE_TRACE_ID",
    "ollama_host": "OLLAMA_HOST",
    "model_timeout": "SAGE_MODEL_TIMEOUT",
    "turn_timeout": "SAGE_TURN_TIMEOUT",
    "redact_prompts": "SAGE_REDACT_PROMPTS",
    "commit": "SAGE_COMMIT",
}
_FILE_KEYS = (
    "mode", "model_profile", "force_local_model", "max_prompt_chars_total", "tool_policy",
    "session_log_max_mb", "ollama_host", "model_timeout", "turn_timeout", "redact_prompts",
    "otel_endpoint", "otel_headers", "otel_capture_content", "theme",
    "test_command", "instructions_file", "commit", "keys",
)
KNOWN_ENV = (*_ENV.values(), "SAGE_HOME", "SAGE_DEBUG")


def load_settings(env: Mapping[str, str] | None = None,
                  home: str | os.PathLike[str] | None = None,
                  names: UiNames | None = None) -> Settings:
    """Read `config.toml` then the environment into a `Settings`.

    Args:
        names: The workbench's action ids and themes; with them, `[keys]` ids and the
            theme are checked too (the workbench and `sage doctor` pass them).

    Raises:
        ConfigError: the file is not valid TOML; or, every problem found at once
            (`ConfigProblems`, one sentence each, with the file's line where known):
            unknown settings and invalid values from the file or the environment.
    """
    environ = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []
    config_file = sage_paths(home, environ).config_file
    source: Path | None = None
    lines: dict[tuple[str, ...], int] = {}
    if config_file.is_file():
        source = config_file
        import tomllib  # here: without a config file, start-up need not load it

        try:
            text = config_file.read_text(encoding="utf-8")
            raw = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid TOML ({exc}); fix or remove it.") from exc
        except OSError as exc:
            raise ConfigError(f"{config_file} cannot be read ({exc.strerror or exc}); check its "
                              "permissions.") from exc
        lines = toml_lines(text)
        for key, value in raw.items():
            if key not in _FILE_KEYS:
                problems.append(at_line(
                    f"{config_file}: {key!r} is not a setting; {_suggest(key, _FILE_KEYS)}"
                    f"known settings: {', '.join(_FILE_KEYS)}.", lines.get((key,))))
                continue
            try:
                values[key] = parse_value(key, value, str(config_file))
            except ConfigError as exc:
                problems.append(at_line(str(exc), lines.get((key,))))
    for name, variable in _ENV.items():
        given = environ.get(variable)
        if given:
            try:
                values[name] = parse_value(name, given, variable)
            except ConfigError as exc:
                problems.append(str(exc))
    if names is not None and source is not None:
        problems += ui_problems(values.get("keys", {}), values.get("theme", Settings.theme),
                                names, str(source), lines)
    if problems:
        raise ConfigProblems(problems)
    return Settings(config_file=source, **values)


def unknown_env(env: Mapping[str, str] | None = None) -> list[str]:
    """`SAGE_*` variables that SAGE does not read (likely typos), with a suggestion."""
    environ = os.environ if env is None else env
    problems = []
    for name in sorted(environ):
        if name.startswith("SAGE_") and name not in KNOWN_ENV:
            problems.append(f"{name} is not a SAGE setting; {_suggest(name, KNOWN_ENV)}".rstrip())
    return problems


# ---------------------------------------------------------------------------------------
# models.yaml

OLLAMA_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "num_ctx": int, "num_predict": int, "num_keep": int, "seed": int, "top_k": int,
    "top_p": (int, float), "min_p": (int, float), "typical_p": (int, float),
    "temperature": (int, float), "repeat_penalty": (int, float), "repeat_last_n": int,
    "presence_penalty": (int, float), "frequency_penalty": (int, float),
    "penalize_newline": bool, "stop": list, "numa": bool, "num_batch": int, "num_gpu": int,
    "main_gpu": int, "use_mmap": bool, "num_thread": int,
}
_ROLE_KEYS = ("model", "options", "fallback", "host", "edit_format", "api", "api_key_env")
_PROFILE_KEYS = ("model", "options", "host", "edit_format", "api", "api_key_env")


def _with_lines(text: str, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse YAML and remember the line of every mapping key, by its key path."""
    from sage_tui.core.yamltext import YAMLSyntaxError, load_with_lines  # only models.yaml needs it

    try:
        return load_with_lines(text)
    except YAMLSyntaxError as exc:
        raise ConfigError(f"{source} is not valid YAML{exc.where}: {exc.problem}.") from exc


class _Checker:
    def __init__(self, source: str, lines: dict[tuple[str, ...], int]) -> None:
        self.source = source
        self.lines = lines

    def host(self, value: Any, path: tuple[str, ...], parse: Callable[[str], str]) -> str:
        try:
            return parse(self.text(value, path))
        except BadHost as exc:
            raise self.fail(path, f"is not a server address: {exc}") from None

    def fail(self, path: tuple[str, ...], message: str) -> ConfigError:
        line = self.lines.get(path)
        where = f" (line {line})" if line else ""
        return ConfigError(f"{self.source}: {'.'.join(path)} {message}{where}.")

    def mapping(self, value: Any, path: tuple[str, ...], keys: tuple[str, ...] | None = None
                ) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be a mapping of keys to values, got {value!r}")
        if keys is not None:
            for key in value:
                if key not in keys:
                    raise self.fail((*path, str(key)),
                                    f"is not a known key; {_suggest(str(key), keys)}"
                                    f"expected one of {', '.join(keys)}")
        return value

    def text(self, value: Any, path: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty text such as 'qwen2.5-coder:7b', got {value!r}")
        return value.strip()

    def options(self, value: Any, path: tuple[str, ...]) -> dict[str, Any]:
        options = dict(self.mapping(value, path))
        for key, item in options.items():
            sub = (*path, str(key))
            expected = OLLAMA_OPTIONS.get(str(key))
            if expected is None:
                raise self.fail(sub, f"is not an Ollama option; {_suggest(str(key), list(OLLAMA_OPTIONS))}"
                                "see `ollama show --parameters`".rstrip())
            if (isinstance(item, bool) and expected is not bool) or not isinstance(item, expected):
                kind = {int: "a whole number", bool: "true or false", list: "a list"}.get(
                    expected if isinstance(expected, type) else float, "a number")
                raise self.fail(sub, f"must be {kind}, got {item!r}")
        if "num_ctx" in options and options["num_ctx"] < 256:
            raise self.fail((*path, "num_ctx"), f"must be at least 256 tokens, got {options['num_ctx']}")
        if "temperature" in options and not 0 <= options["temperature"] <= 2:
            raise self.fail((*path, "temperature"), "must be between 0 and 2")
        return options

    def model(self, role: str, raw: Any, path: tuple[str, ...], keys: tuple[str, ...],
              defaults: Mapping[str, Any], default_host: str | None) -> RoleModel:
        spec = self.mapping(raw, path, keys)
        if "model" not in spec:
            raise self.fail(path, "needs a 'model' (an Ollama tag such as 'qwen2.5-coder:7b')")
        fallback = spec.get("fallback") or []
        if not isinstance(fallback, list):
            raise self.fail((*path, "fallback"), "must be a list of model tags")
        host = spec.get("host")
        api = spec.get("api", "ollama")
        if api not in ("ollama", "openai"):
            raise self.fail((*path, "api"), f"must be ollama or openai (an OpenAI-compatible server "
                            f"such as llama.cpp's, vLLM or LM Studio), got {api!r}")
        key_env = spec.get("api_key_env")
        if key_env is not None and not (isinstance(key_env, str)
                                        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env)):
            raise self.fail((*path, "api_key_env"), "must name an environment variable that "
                            f"holds the key (such as VLLM_API_KEY), never the key; got {key_env!r}")
        if api == "openai" and not host:
            raise self.fail(path, "uses api: openai, so it needs a host (the server's URL, such as "
                            "http://gpu-box:8000)")
        edit_format = spec.get("edit_format")
        if edit_format is not None and edit_format not in EDIT_FORMATS:
            raise self.fail((*path, "edit_format"), f"must be one of {', '.join(EDIT_FORMATS)} "
                            f"(how the coder writes changes), got {edit_format!r}")
        return RoleModel(
            role=role,
            model=self.text(spec["model"], (*path, "model")),
            options={**defaults, **self.options(spec.get("options"), (*path, "options"))},
            fallback=tuple(self.text(f, (*path, "fallback")) for f in fallback),
            host=(self.host(host, (*path, "host"), openai_host) if api == "openai"
                  else self.host(host, (*path, "host"), normalize_ollama_host) if host
                  else default_host),
            edit_format=edit_format, api=api, api_key_env=key_env,
        )


def _parse_models(text: str, source: str, base: ModelsConfig | None) -> ModelsConfig:
    data, lines = _with_lines(text, source)
    check = _Checker(source, lines)
    top = check.mapping(data, (), ("defaults", "roles", "profiles"))
    defaults_spec = check.mapping(top.get("defaults"), ("defaults",), ("options", "host"))
    defaults = check.options(defaults_spec.get("options"), ("defaults", "options"))
    host = defaults_spec.get("host")
    default_host = check.host(host, ("defaults", "host"), normalize_ollama_host) if host else None
    roles: dict[str, RoleModel] = dict(base.roles) if base else {}
    for role, raw in check.mapping(top.get("roles"), ("roles",)).items():
        if role not in ROLES:
            raise check.fail(("roles", str(role)), f"is not a role; {_suggest(str(role), ROLES)}"
                             f"roles are {', '.join(ROLES)}")
        roles[role] = check.model(role, raw, ("roles", role), _ROLE_KEYS, defaults, default_host)
    missing = [r for r in ROLES if r not in roles]
    if missing:
        raise check.fail(("roles",), f"lacks {', '.join(missing)}")
    profiles: dict[str, RoleModel] = dict(base.profiles) if base else {}
    for name, raw in check.mapping(top.get("profiles"), ("profiles",)).items():
        profiles[str(name)] = check.model("*", raw, ("profiles", str(name)), _PROFILE_KEYS,
                                          defaults, default_host)
    return ModelsConfig(roles=roles, profiles=profiles, source=None)


def default_models() -> ModelsConfig:
    """The built-in role map shipped with SAGE."""
    from importlib import resources  # here: start-up reads settings, not the role map

    text = resources.files("sage_tui").joinpath("data/models.yaml").read_text(encoding="utf-8")
    return _parse_models(text, "built-in models.yaml", None)


def load_models(path: str | os.PathLike[str] | None = None,
                home: str | os.PathLike[str] | None = None) -> ModelsConfig:
    """Load `models.yaml` (the user's, else the built-in one).

    Roles and profiles the user's file leaves out keep their built-in values.

    Raises:
        ConfigError: naming the file, the key path, the line and what is wrong.
    """
    file = Path(path) if path is not None else sage_paths(home).models_file
    base = default_models()
    if path is None and not file.is_file():
        return base
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file} does not exist; create it or leave the option out.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} cannot be read ({exc}); check its permissions.") from exc
    parsed = _parse_models(text, str(file), base)
    return ModelsConfig(roles=parsed.roles, profiles=parsed.profiles, source=file)
