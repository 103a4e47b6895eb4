"""`!cmd` in the prompt: a command line the person typed, run under the tool policy.

The person typing it is the decision a checkpoint would ask for, so a policy verdict of
`ask` is allowed, and logged as theirs; `deny` (a read-only preset, a rule in a policy
file) still denies: the policy is where a team says what never runs. The command runs
as `run_command` does (no shell, in the workspace, output cut to its tail) and the log
gets TOOL_CALL (`by: person`), POLICY_DECISION and TOOL_RESULT or TOOL_ERROR. The output
is shown to the person; it is not sent to the model (pin a file with `@path`, or paste
what the model should see).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sage_tui.core.agent.codeflow import CodeFlow
from sage_tui.core.log.emitting import emitter
from sage_tui.core.log.events import EventName
from sage_tui.core.tools.registry import ToolFailure

TOOL = "run_command"
PERSON_RULE = "typed by the person"


@dataclass(frozen=True)
class ShellOutcome:
    ok: bool
    text: str  # what the person sees: the output's tail, or why it did not run


async def run_typed(flow: CodeFlow, command: str, call_number: int) -> ShellOutcome:
    """Run `command` for the person, under the policy; never raises for a bad command."""
    emit = emitter(flow.sink)
    call_id = f"person-{call_number}"
    emit(EventName.TOOL_CALL, {"tool": TOOL, "args": {"command": command}, "call_id": call_id,
                               "by": "person"})
    verdict, rule, _ = flow.policy.decide_all(TOOL, "run", [command])
    if verdict == "ask":
        verdict, rule = "allow", PERSON_RULE
    emit(EventName.POLICY_DECISION, {"tool": TOOL, "target": command, "verdict": verdict,
                                     "rule": rule})
    tool = flow.registry.get(TOOL)
    try:
        if verdict == "deny":
            raise ToolFailure("permission_denied", f"The tool policy denies running {command!r} "
                              f"({rule}); change SAGE_TOOL_POLICY to run commands from SAGE.")
        _, args = flow.registry.check(TOOL, {"command": command})
        output = await asyncio.to_thread(tool.run, flow.tool_context, args)
    except (ToolFailure, OSError, ValueError) as exc:
        failure = exc if isinstance(exc, ToolFailure) else ToolFailure(
            "execution_error", f"{command!r} could not run: {exc}")
        emit(EventName.TOOL_ERROR, {"tool": TOOL, "call_id": call_id, "kind": failure.kind,
                                    "message": failure.message, "suggestion": failure.suggestion,
                                    "attempt": 1})
        return ShellOutcome(False, failure.message)
    emit(EventName.TOOL_RESULT, {"tool": TOOL, "call_id": call_id, "ok": output.ok,
                                 "summary": output.summary, "ms": output.data.get("ms", 0),
                                 "exit_code": int(output.data.get("exit_code", 0))})
    return ShellOutcome(output.ok, output.content)
