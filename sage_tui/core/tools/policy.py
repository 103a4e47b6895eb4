"""The tool policy (`SAGE_TOOL_POLICY`): allow, ask or deny each tool call.

Presets:

| tool | read_only | workspace_write (default) | allow_commands |
|---|---|---|---|
| read_file, list_files, search_code | allow | allow | allow |
| propose_patch | deny | allow | allow |
| run_tests | ask | allow | allow |
| run_command | deny | ask | allow |

Or a YAML file of rules, the first match wins::

    default: ask                # when no rule matches (default: ask)
    rules:
      - {tool: read_file, path: "secrets/**", verdict: deny}
      - {tool: "run_*", verdict: ask}
      - {tool: "*", verdict: allow}

`path` globs match the call's target (a path, or a command line for commands).
`ask` becomes a checkpoint where a person allows once, for the session, or denies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sage_tui.core.errors import ConfigError

VERDICTS = ("allow", "ask", "deny")
PRESETS: dict[str, dict[str, str]] = {
    "read_only": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                  "propose_patch": "deny", "run_tests": "ask", "run_command": "deny"},
    "workspace_write": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                        "propose_patch": "allow", "run_tests": "allow", "run_command": "ask"},
    "allow_commands": {"read_file": "allow", "list_files": "allow", "search_code": "allow",
                       "propose_patch": "allow", "run_tests": "allow", "run_command": "allow"},
}


@dataclass(frozen=True)
class Rule:
    tool: str
    verdict: str
    path: str | None = None
    name: str = ""

    def matches(self, tool: str, target: str) -> bool:
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return self.path is None or fnmatch.fnmatchcase(target, self.path)


@dataclass
class Policy:
    """Decides calls; remembers 'allow for this session' answers."""

    name: str
    rules: list[Rule]
    default: str = "ask"
    session_allowed: set[tuple[str, str]] = field(default_factory=set)

    def decide(self, tool: str, target: str) -> tuple[str, str]:
        """(verdict, the rule that decided)."""
        if (tool, target) in self.session_allowed or (tool, "*") in self.session_allowed:
            return "allow", "allowed for this session"
        for rule in self.rules:
            if rule.matches(tool, target):
                return rule.verdict, rule.name
        return self.default, f"{self.name}: default"

    def allow_for_session(self, tool: str, target: str = "*") -> None:
        self.session_allowed.add((tool, target))


def load_policy(spec: str) -> Policy:
    """A preset by name, or a policy file by path.

    Raises:
        ConfigError: naming the file, the rule and what is wrong.
    """
    if spec in PRESETS:
        rules = [Rule(tool, verdict, name=f"preset {spec}: {tool} {verdict}")
                 for tool, verdict in PRESETS[spec].items()]
        return Policy(spec, rules, default="deny")
    path = Path(spec).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"SAGE_TOOL_POLICY: cannot read {path} ({exc.strerror}); use a preset "
                          f"({', '.join(PRESETS)}) or a readable file.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"SAGE_TOOL_POLICY: {path} is not valid YAML ({exc}).") from exc
    return _parse(data, str(path))


def _parse(data: Any, source: str) -> Policy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a policy is a mapping with 'rules' (and optional 'default').")
    unknown = set(data) - {"default", "rules"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}; use 'default' and 'rules'.")
    default = data.get("default", "ask")
    if default not in VERDICTS:
        raise ConfigError(f"{source}: default must be one of {', '.join(VERDICTS)}, got {default!r}.")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{source}: 'rules' must be a list.")
    rules = []
    for index, raw in enumerate(raw_rules, start=1):
        where = f"{source}: rule {index}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("tool"), str):
            raise ConfigError(f"{where} needs a 'tool' (a name or a glob such as 'run_*').")
        if set(raw) - {"tool", "path", "verdict"}:
            extra = sorted(set(raw) - {"tool", "path", "verdict"})[0]
            raise ConfigError(f"{where}: unknown key {extra!r}; use tool, path and verdict.")
        verdict = raw.get("verdict")
        if verdict not in VERDICTS:
            raise ConfigError(f"{where}: verdict must be one of {', '.join(VERDICTS)}, "
                              f"got {verdict!r}.")
        path = raw.get("path")
        if path is not None and not isinstance(path, str):
            raise ConfigError(f"{where}: 'path' must be a glob such as 'src/**'.")
        label = f"{Path(source).name} rule {index}: {raw['tool']}" + (f" {path}" if path else "")
        rules.append(Rule(raw["tool"], verdict, path, label + f" {verdict}"))
    return Policy(Path(source).name, rules, default)
