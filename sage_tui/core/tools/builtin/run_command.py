"""`run_command`: one command line in the workspace (no shell), under the policy."""

from __future__ import annotations

from typing import Any

from sage_tui.core.tools.builtin.common import run_process
from sage_tui.core.tools.registry import Tool, ToolContext, ToolOutput


def run_command(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    command = args["command"]
    code, tail, ms = run_process(ctx, command, float(args.get("timeout", 120)))
    return ToolOutput(f"$ {command}\nexit code {code}\n{tail}", f"`{command}` exited {code}",
                      ok=code == 0, data={"exit_code": code, "ms": round(ms, 1)})


TOOL = Tool("run_command", "Run a command line in the workspace (subject to the tool policy).",
            {"type": "object", "additionalProperties": False, "required": ["command"],
             "properties": {"command": {"type": "string", "minLength": 1},
                            "timeout": {"type": "number", "minimum": 1, "maximum": 3600}}},
            run_command, effect="run", targets=lambda ctx, a: [str(a.get("command", ""))],
            timeout=3700)
