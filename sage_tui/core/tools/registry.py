"""The tool registry: declared tools, argument checking, and failures with a kind.

A tool describes itself: a name, a description, a JSON schema for its arguments,
its **effect** (`read`, `propose` or `run`: what the policy's presets judge), the
roles it is offered to, the events a call reports besides TOOL_CALL/TOOL_RESULT,
a `targets` function (what the policy judges: the workspace-relative paths a call
really touches, normalised, or a command line) and a
synchronous function that does the work in a worker thread. Failures the model can
fix are raised as `ToolFailure(kind, message, suggestion)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sage_tui.core.log.events import Event, EventName
from sage_tui.core.tools.schema import validate
from sage_tui.core.workspace.workspace import PathDenied, Workspace

KINDS = ("timeout", "validation_error", "not_found", "permission_denied", "execution_error")
Effect = Literal["read", "propose", "run"]
EFFECTS: tuple[Effect, ...] = ("read", "propose", "run")


class ToolFailure(Exception):
    """A tool call that failed in a way the model should hear about."""

    def __init__(self, kind: str, message: str, suggestion: str = "") -> None:
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.suggestion = suggestion


@dataclass
class ToolOutput:
    """What a successful call returns: text for the model, a summary for people."""

    content: str
    summary: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # reported if the tool declares them


@dataclass
class ToolContext:
    """What tools work on: the workspace, the proposal queue, the test command."""

    workspace: Workspace
    test_command: str | None = None
    command_timeout: float = 600.0
    proposed: list[Any] = field(default_factory=list)  # patches queued by propose_patch
    patch_ids: set[str] = field(default_factory=set)  # every id given out this session

    @property
    def root(self) -> Path:
        return self.workspace.root

    def normalized(self, path: str) -> str:
        """`path` as the policy judges it: workspace-relative, `./`, `..` and `//` folded.

        A path the workspace refuses is judged as written; the call then fails with the
        workspace's reason.
        """
        try:
            return self.workspace.normalize(path)
        except PathDenied:
            return path


@dataclass(frozen=True)
class Tool:
    """One tool, as it describes itself to models, to the policy and to the log.

    Attributes:
        effect: What a call does to the world: `read` (looks, changes nothing),
            `propose` (queues a change for review) or `run` (runs a program).
        roles: The roles offered this tool; a call from any other role is refused.
        emits: Events a call may report besides TOOL_CALL and TOOL_RESULT/TOOL_ERROR.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    run: Callable[[ToolContext, dict[str, Any]], ToolOutput]
    effect: Effect
    targets: Callable[[ToolContext, dict[str, Any]], list[str]] = \
        lambda ctx, args: [ctx.normalized(str(args.get("path", ".")))]
    timeout: float = 60.0
    roles: tuple[str, ...] = ("coder",)
    emits: tuple[EventName, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The Ollama / OpenAI function-tool declaration."""
        return {"type": "function", "function": {"name": self.name,
                                                 "description": self.description,
                                                 "parameters": dict(self.parameters)}}


class ToolRegistry:
    """Tools by name."""

    def __init__(self, tools: list[Tool]) -> None:
        self.tools = {tool.name: tool for tool in tools}

    def get(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            raise ToolFailure("validation_error", f"There is no tool named {name!r}.",
                              f"Use one of: {', '.join(self.tools)}.")
        return tool

    def offered(self, role: str) -> list[str]:
        """The names of the tools `role` is offered, in registry order."""
        return [name for name, tool in self.tools.items() if role in tool.roles]

    def check(self, name: str, args: Any, offered: list[str] | None = None
              ) -> tuple[Tool, dict[str, Any]]:
        """The tool and its arguments, or a `validation_error` naming what is wrong.

        Args:
            offered: The tools the caller was offered; any other name is refused.
        """
        if offered is not None and name not in offered:
            why = "is not one of the tools you were offered" if name in self.tools else \
                "does not exist"
            raise ToolFailure("validation_error", f"The tool {name!r} {why}.",
                              f"Use one of: {', '.join(offered) or 'none'}.")
        tool = self.get(name)
        if not isinstance(args, dict):
            raise ToolFailure("validation_error", f"{name} takes an object of arguments, got "
                              f"{type(args).__name__}.", f"Send arguments like {_example(tool)}.")
        problems = validate(args, tool.parameters)
        if problems:
            raise ToolFailure("validation_error", f"{name}: " + "; ".join(problems) + ".",
                              f"Fix the arguments and call again, e.g. {_example(tool)}.")
        return tool, args

    def declarations(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        return [t.schema() for n, t in self.tools.items() if names is None or n in names]

    def describe_for_text(self, names: list[str] | None = None) -> str:
        """Tool descriptions for models without native tool calls."""
        lines = []
        for name, tool in self.tools.items():
            if names is None or name in names:
                params = ", ".join(f"{k}: {v.get('type', 'any')}"
                                   + ("" if k in tool.parameters.get("required", []) else "?")
                                   for k, v in tool.parameters.get("properties", {}).items())
                lines.append(f"- {name}({params}): {tool.description}")
        return "\n".join(lines)


def _example(tool: Tool) -> str:
    props = tool.parameters.get("properties", {})
    required = tool.parameters.get("required", [])
    sample = {key: {"string": "...", "integer": 1, "boolean": True}.get(
        props[key].get("type", "string"), "...") for key in required}
    return json.dumps(sample)
