"""The tool policy (`SAGE_TOOL_POLICY`): allow, ask or deny each tool call.

Presets judge a tool by the effect it declares (`read`, `propose`, `run`), so a new
tool needs no policy edit:

| effect | read_only | workspace_write (default) | allow_commands |
|---|---|---|---|
| read (read_file, list_files, search_code) | allow | allow | allow |
| propose (propose_patch) | deny | allow | allow |
| run (run_command) | deny | ask | allow |
| run_tests (the configured test command) | deny | allow | allow |

`run_tests` is named in the table because it runs the test command the person set
(or the project's evident one) after an approved change, not a command a model
chose; `workspace_write` allows it by name.

Or a YAML file of rules, the first match wins::

    preset: workspace_write     # optional: judge unmatched calls by this preset
    default: ask                # without a preset: the verdict when no rule matches
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

from sage_tui.core.errors import ConfigError, not_utf8
from sage_tui.core.yamltext import YAMLSyntaxError, safe_load

VERDICTS = ("allow", "ask", "deny")
STRICTNESS = {"allow": 0, "ask": 1, "deny": 2}
PRESETS: dict[str, dict[str, str]] = {  # effect → verdict
    "read_only": {"read": "allow", "propose": "deny", "run": "deny"},
    "workspace_write": {"read": "allow", "propose": "allow", "run": "ask"},
    "allow_commands": {"read": "allow", "propose": "allow", "run": "allow"},
}
PRESET_TOOLS: dict[str, dict[str, str]] = {  # tool → verdict, before the effect
    "workspace_write": {"run_tests": "allow"},
}


@dataclass(frozen=True)
class Rule:
    tool: str
    verdict: str
    path: str | None = None
    name: str = ""

    def matches(self, tool: str, target: str) -> bool:
        """Whether the rule covers `tool` on `target` (paths in any letter case, so a rule
        cannot be dodged on a case-insensitive file system)."""
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return self.path is None or fnmatch.fnmatchcase(target.lower(), self.path.lower())


def preset_verdict(preset: str, tool: str, effect: str) -> str:
    """What a preset says of `tool`, whose declared effect is `effect`."""
    return PRESET_TOOLS.get(preset, {}).get(tool) or PRESETS[preset][effect]


@dataclass
class Policy:
    """Decides calls; remembers 'allow for this session' answers.

    Rules (from a policy file) are tried first, the first match wins; then the
    preset judges by the tool's effect; without a preset, `default` decides.
    """

    name: str
    rules: list[Rule]
    default: str = "ask"
    preset: str | None = None
    session_allowed: set[tuple[str, str]] = field(default_factory=set)

    def decide(self, tool: str, effect: str, target: str) -> tuple[str, str]:
        """(verdict, the rule that decided)."""
        if (tool, target) in self.session_allowed or (tool, "*") in self.session_allowed:
            return "allow", "allowed for this session"
        for rule in self.rules:
            if rule.matches(tool, target):
                return rule.verdict, rule.name
        if self.preset is not None:
            verdict = preset_verdict(self.preset, tool, effect)
            return verdict, f"preset {self.preset}: {tool} {verdict}"
        return self.default, f"{self.name}: default"

    def decide_all(self, tool: str, effect: str, targets: list[str]) -> tuple[str, str, str]:
        """Judge every target on its own: (the strictest verdict, its rule, the target it was).

        One denied file denies a multi-file patch; one asked file asks.
        """
        worst = ("allow", "", targets[0] if targets else ".")
        for target in targets or ["."]:
            verdict, rule = self.decide(tool, effect, target)
            if not worst[1] or STRICTNESS[verdict] > STRICTNESS[worst[0]]:
                worst = (verdict, rule, target)
        return worst

    def hides(self, path: str) -> bool:
        """Whether a read rule denies `path` (workspace-relative): it then never enters a prompt."""
        for rule in self.rules:
            if rule.matches("read_file", path):
                return rule.verdict == "deny"
        return self.preset is None and self.default == "deny"

    def allow_for_session(self, tool: str, target: str = "*") -> None:
        self.session_allowed.add((tool, target))


def load_policy(spec: str) -> Policy:
    """A preset by name, or a policy file by path.

    Raises:
        ConfigError: naming the file, the rule and what is wrong.
    """
    if spec in PRESETS:
        return Policy(spec, [], preset=spec)
    path = Path(spec).expanduser()
    try:
        raw = path.read_bytes()
        data = safe_load(raw.decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"SAGE_TOOL_POLICY: cannot read {path} ({exc.strerror}); use a preset "
                          f"({', '.join(PRESETS)}) or a readable file.") from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(f"SAGE_TOOL_POLICY: {path}", raw, exc) from None
    except YAMLSyntaxError as exc:
        raise ConfigError(f"SAGE_TOOL_POLICY: {path} is not valid YAML{exc.where}: {exc.problem}.") \
            from None
    return _parse(data, str(path))


def _parse(data: Any, source: str) -> Policy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a policy is a mapping with 'rules' (and optional 'default').")
    unknown = set(data) - {"default", "rules", "preset"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}; use 'preset', 'default' "
                          "and 'rules'.")
    default = data.get("default", "ask")
    if default not in VERDICTS:
        raise ConfigError(f"{source}: default must be one of {', '.join(VERDICTS)}, got {default!r}.")
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"{source}: preset must be one of {', '.join(PRESETS)}, got {preset!r}.")
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
    return Policy(Path(source).name, rules, default, preset)
