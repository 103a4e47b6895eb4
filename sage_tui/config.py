"""Settings (`SAGE_*` variables over `config.toml`) and the role → model map (`models.yaml`).

Precedence, highest first: command-line flags (applied by the CLI), environment
variables, the config file, built-in defaults. Nothing is read at import time.

Every mistake a user can make here raises `ConfigError` with one sentence naming
the file (or variable), the key, what is wrong and, where it helps, a suggestion; a
file with several mistakes raises them all at once (`ConfigProblems`), so one run
shows everything to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
_T = TypeVar("_T")


def _with_lines(text: str, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse YAML and remember the line of every mapping key, by its key path."""
    from sage_tui.core.yamltext import YAMLSyntaxError, load_with_lines  # only models.yaml needs it

    try:
        return load_with_lines(text)
    except YAMLSyntaxError as exc:
        raise ConfigError(f"{source} is not valid YAML{exc.where}: {exc.problem}.") from exc


class _Problem(ConfigError):
    """One models.yaml problem; its line puts it in file order among the others."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _Checker:
    """Checks a parsed models.yaml and keeps every problem, so that one run names them all.

    A check raises `_Problem` when the value it is about cannot be read any further (a role
    that is not a mapping); `attempt` records it and the caller goes on with the next
    independent value. Problems that do not stop a check are recorded with `note`.
    """

    def __init__(self, source: str, lines: dict[tuple[str, ...], int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[_Problem] = []

    def fail(self, path: tuple[str, ...], message: str) -> _Problem:
        line = self.lines.get(path)
        where = f" (line {line})" if line else ""
        subject = f"{'.'.join(path)} " if path else "the file "  # the whole file: no key path
        return _Problem(f"{self.source}: {subject}{message}{where}.", line)

    def note(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(self.fail(path, message))

    def attempt(self, check: Callable[..., _T], *args: Any) -> _T | None:
        """`check(*args)`, or None with its problem recorded."""
        try:
            return check(*args)
        except _Problem as problem:
            self.problems.append(problem)
            return None

    def report(self) -> None:
        """Raise every problem found, in file order (any without a line last)."""
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: (p.line is None, p.line or 0))
            raise ConfigProblems([str(problem) for problem in ordered])

    def host(self, value: Any, path: tuple[str, ...], parse: Callable[[str], str]) -> str:
        try:
            return parse(self.text(value, path))
        except BadHost as exc:
            raise self.fail(path, f"is not a server address: {exc}") from None

    def mapping(self, value: Any, path: tuple[str, ...], keys: tuple[str, ...] | None = None
                ) -> Mapping[Any, Any]:
        """`value` as a mapping ({} for nothing); each unknown key is a problem of its own."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be a mapping of keys to values, got {value!r}")
        for key in value:
            if keys is not None and key not in keys:
                self.note((*path, str(key)), f"is not a known key; {_suggest(str(key), keys)}"
                                             f"expected one of {', '.join(keys)}")
        return value

    def text(self, value: Any, path: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty text such as 'qwen2.5-coder:7b', got {value!r}")
        return value.strip()

    def options(self, value: Any, path: tuple[str, ...]) -> dict[str, Any]:
        """The sound options; each unsound one is a problem of its own and is left out."""
        options: dict[str, Any] = {}
        for key, item in self.mapping(value, path).items():
            sub = (*path, str(key))
            expected = OLLAMA_OPTIONS.get(str(key))
            if expected is None:
                self.note(sub, f"is not an Ollama option; {_suggest(str(key), list(OLLAMA_OPTIONS))}"
                          "see `ollama show --parameters`")
            elif (isinstance(item, bool) and expected is not bool) or not isinstance(item, expected):
                kind = {int: "a whole number", bool: "true or false", list: "a list"}.get(
                    expected if isinstance(expected, type) else float, "a number")
                self.note(sub, f"must be {kind}, got {item!r}")
            else:
                options[str(key)] = item
        if options.get("num_ctx", 256) < 256:
            self.note((*path, "num_ctx"), f"must be at least 256 tokens, got {options['num_ctx']}")
        if not 0 <= options.get("temperature", 0) <= 2:
            self.note((*path, "temperature"), "must be between 0 and 2")
        return options

    def api(self, spec: Mapping[Any, Any], path: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(api, api_key_env), each None when it has a problem (recorded)."""
        api = spec.get("api", "ollama")
        if api not in ("ollama", "openai"):
            self.note((*path, "api"), f"must be ollama or openai (an OpenAI-compatible server "
                      f"such as llama.cpp's, vLLM or LM Studio), got {api!r}")
            api = None
        key_env = spec.get("api_key_env")
        if key_env is not None and not (isinstance(key_env, str)
                                        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env)):
            self.note((*path, "api_key_env"), "must name an environment variable that "
                      f"holds the key (such as VLLM_API_KEY), never the key; got {key_env!r}")
            key_env = None
        return api, key_env

    def role_host(self, host: Any, api: str | None, path: tuple[str, ...],
                  default_host: str | None) -> str | None:
        """The server for one role; none is checked when `api` is unknown (it decides how)."""
        if api == "openai" and not host:
            self.note(path, "uses api: openai, so it needs a host (the server's URL, such as "
                            "http://gpu-box:8000)")
        if api is None or not host:
            return default_host
        parse = openai_host if api == "openai" else normalize_ollama_host
        return self.attempt(self.host, host, (*path, "host"), parse)

    def model(self, role: str, raw: Any, path: tuple[str, ...], keys: tuple[str, ...],
              defaults: Mapping[str, Any], default_host: str | None) -> RoleModel | None:
        """One role's (or profile's) model, or None when it has problems (all recorded)."""
        before = len(self.problems)
        spec = self.mapping(raw, path, keys)
        if "model" not in spec:
            self.note(path, "needs a 'model' (an Ollama tag such as 'qwen2.5-coder:7b')")
        model = self.attempt(self.text, spec["model"], (*path, "model")) if "model" in spec else None
        fallback = spec.get("fallback") or []
        if not isinstance(fallback, list):
            self.note((*path, "fallback"), "must be a list of model tags")
            fallback = []
        tags = tuple(self.attempt(self.text, tag, (*path, "fallback")) or "" for tag in fallback)
        api, key_env = self.api(spec, path)
        host = self.role_host(spec.get("host"), api, path, default_host)
        edit_format = spec.get("edit_format")
        if edit_format is not None and edit_format not in EDIT_FORMATS:
            self.note((*path, "edit_format"), f"must be one of {', '.join(EDIT_FORMATS)} "
                      f"(how the coder writes changes), got {edit_format!r}")
        options = self.attempt(self.options, spec.get("options"), (*path, "options"))
        if len(self.problems) > before or model is None or api is None:
            return None
        return RoleModel(role=role, model=model, options={**defaults, **(options or {})},
                         fallback=tags, host=host, edit_format=edit_format, api=api,
                         api_key_env=key_env)


def _roles(check: _Checker, spec: Any, base: ModelsConfig | None, defaults: Mapping[str, Any],
           default_host: str | None) -> dict[str, RoleModel]:
    """`base`'s roles with the file's sound ones over them; each role's problems are its own."""
    roles: dict[str, RoleModel] = dict(base.roles) if base else {}
    named = check.attempt(check.mapping, spec, ("roles",))
    for role, raw in (named or {}).items():
        if role not in ROLES:
            check.note(("roles", str(role)), f"is not a role; {_suggest(str(role), ROLES)}"
                                             f"roles are {', '.join(ROLES)}")
            continue
        parsed = check.attempt(check.model, role, raw, ("roles", role), _ROLE_KEYS, defaults,
                               default_host)
        if parsed is not None:
            roles[role] = parsed
    if named is not None and all(r in ROLES for r in named):  # else a misspelt role is why
        missing = [r for r in ROLES if r not in roles and r not in named]
        if missing:
            check.note(("roles",), f"lacks {', '.join(missing)}")
    return roles


def _parse_models(text: str, source: str, base: ModelsConfig | None) -> ModelsConfig:
    """The model map in `text` over `base`'s roles and profiles.

    Raises:
        ConfigError: the text is not YAML or not a mapping (at once); else every problem
            in the file, in file order (`ConfigProblems`; one problem reads as itself).
    """
    data, lines = _with_lines(text, source)
    check = _Checker(source, lines)
    top = check.mapping(data, (), ("defaults", "roles", "profiles"))
    defaults_spec = check.attempt(check.mapping, top.get("defaults"), ("defaults",),
                                  ("options", "host")) or {}
    defaults = check.attempt(check.options, defaults_spec.get("options"),
                             ("defaults", "options")) or {}
    host = defaults_spec.get("host")
    default_host = (check.attempt(check.host, host, ("defaults", "host"), normalize_ollama_host)
                    if host else None)
    roles = _roles(check, top.get("roles"), base, defaults, default_host)
    profiles: dict[str, RoleModel] = dict(base.profiles) if base else {}
    profiles_spec = check.attempt(check.mapping, top.get("profiles"), ("profiles",))
    for name, raw in (profiles_spec or {}).items():
        profile = check.attempt(check.model, "*", raw, ("profiles", str(name)), _PROFILE_KEYS,
                                defaults, default_host)
        if profile is not None:
            profiles[str(name)] = profile
    check.report()
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
        ConfigError: the file cannot be read, is not YAML or not a mapping; else every
            problem in it at once (`ConfigProblems`, in file order), each naming the
            file, the key path, the line and what is wrong.
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
