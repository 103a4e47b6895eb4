"""One setting's value, checked: each bad value becomes one sentence (a `ConfigError`).

`config.load_settings` reads values from `config.toml` and the environment and hands
each to `parse_value`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.hosts import BadHost, normalize_ollama_host
from sage_tui.core.log.events import MODES
from sage_tui.core.log.ids import check_session_id, check_trace_id, parse_max_mb

TOOL_POLICY_PRESETS = ("read_only", "workspace_write", "allow_commands")


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """'did you mean X? ' for the choice closest to `word`, or nothing."""
    import difflib  # only for a mistyped setting

    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def parse_value(name: str, value: Any, source: str) -> Any:
    """Setting `name` from `value`, read from `source` (a file or a variable).

    Raises:
        ConfigError: one sentence naming the source, the setting and what is wrong.
    """
    where = f"{source} is set" if re.fullmatch(r"[A-Z][A-Z0-9_]*", source) else f"{source} sets {name}"
    if name == "mode":
        if value not in MODES:
            raise ConfigError(
                f"{where} to {value!r}, but it must be one of {', '.join(MODES)}; "
                f"{suggest(str(value), MODES)}".rstrip("; ") + "."
            )
        return value
    if name == "max_prompt_chars_total":
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if isinstance(value, bool) or number < 1000:
            raise ConfigError(
                f"{where} to {value!r}, but it must be a whole number of characters of at "
                "least 1000; try 60000."
            )
        return number
    if name == "session_log_max_mb":
        return parse_max_mb(value, where)
    if name == "otel_capture_content":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} to {value!r}, but it must be true or false.")
        return value
    if name == "commit":
        if value not in ("off", "ask", "auto"):
            raise ConfigError(f"{where} to {value!r}, but it must be off, ask (offer a commit "
                              "after an applied, tested change) or auto.")
        return value
    if name == "redact_prompts":
        if value not in ("auto", "always", "never"):
            raise ConfigError(f"{where} to {value!r}, but it must be auto (redact prompts sent "
                              "to a model host off this machine), always or never.")
        return value
    if name in ("model_timeout", "turn_timeout"):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
        most, example = (3600, 120) if name == "model_timeout" else (86400, 600)
        if isinstance(value, bool) or not 0 < seconds <= most:
            raise ConfigError(f"{where} to {value!r}, but it must be a number of seconds between "
                              f"0 and {most}; try {example}.")
        return seconds
    if name == "tool_policy":
        text = str(value)
        if text in TOOL_POLICY_PRESETS or Path(text).expanduser().is_file():
            return text
        raise ConfigError(
            f"{where} to {text!r}, which is neither a preset ({', '.join(TOOL_POLICY_PRESETS)}) "
            "nor an existing policy file."
        )
    if name == "session_id":
        return check_session_id(str(value), where)
    if name == "trace_id":
        return check_trace_id(str(value), where)
    if name == "ollama_host":
        try:
            return normalize_ollama_host(str(value))
        except BadHost as exc:
            raise ConfigError(f"{where} to {value!r}, but {exc}; try 127.0.0.1:11434 or "
                              "http://gpu-box:11434.") from None
    if name == "keys":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{source}: [keys] must map action ids to key names, "
                              "such as \"review.approve\" = \"Y\".")
        return dict(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} to {value!r}, but it must be a non-empty text.")
    return value.strip()


class ConfigProblems(ConfigError):
    """Several configuration mistakes, reported together: one sentence a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        if len(problems) == 1:
            super().__init__(problems[0])
        else:
            super().__init__(f"the configuration has {len(problems)} problems; fix each:\n"
                             + "\n".join(f"  - {problem}" for problem in problems))


@dataclass(frozen=True)
class UiNames:
    """What the workbench knows by name: its action ids (for `[keys]`) and themes.

    The UI supplies them (`sage_tui.ui.actions.ui_names`); settings code never imports
    the UI, which would slow every command's start.
    """

    actions: frozenset[str]
    themes: frozenset[str]


def at_line(message: str, line: int | None) -> str:
    """`message` with ` (line N)` before its final full stop, when the line is known."""
    if line is None:
        return message
    body = message[:-1] if message.endswith(".") else message
    return f"{body} (line {line})."


def toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of each key in a simple TOML file, by (table, key) path.

    tomllib reports no positions; this scan finds `key = ...` lines under `[table]`
    headers, which is how a config.toml is written. Keys it cannot place get no line.
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.split("\n"), 1):
        header = re.match(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]", line)
        if header:
            table = tuple(header[1].split("."))
            lines.setdefault(table, number)
            continue
        key = re.match(r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""", line)
        if key:
            lines.setdefault((*table, key[1] or key[2] or key[3] or ""), number)
    return lines


def ui_problems(keys: Mapping[str, str], theme: str, names: UiNames, source: str,
                lines: Mapping[tuple[str, ...], int]) -> list[str]:
    """Sentences for `[keys]` ids and a theme name the workbench does not know."""
    problems = []
    for action_id in keys:
        if action_id not in names.actions:
            problems.append(at_line(
                f"{source}: [keys] names {action_id!r}, which is not an action id; "
                f"{suggest(action_id, sorted(names.actions))}the help screen (?) lists every "
                "id.", lines.get(("keys", action_id))))
    if theme not in names.themes:
        problems.append(at_line(
            f"{source} sets theme to {theme!r}, which is not a theme; "
            f"{suggest(theme, sorted(names.themes))}themes are {', '.join(sorted(names.themes))}.",
            lines.get(("theme",))))
    return problems
