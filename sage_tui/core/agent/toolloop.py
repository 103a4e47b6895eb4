"""The agentic tool loop: the model calls tools until it answers, under the policy.

Each call is checked (schema), judged (policy: allow, ask → a checkpoint, deny), run
in a worker thread with a timeout, and reported (TOOL_CALL, then TOOL_RESULT or
TOOL_ERROR). A failure is classified (`timeout`, `validation_error`, `not_found`,
`permission_denied`, `execution_error`) and returned to the model with a concrete
suggestion; the same failing call is allowed at most three times. A tool whose last
call failed is an unrecovered failure, and the loop then reports `failed` whatever
the model says. Models that answer 400 "does not support tools" get the tools
described in the prompt and reply with JSON tool calls in plain text instead.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

from sage_tui.core.agent.approval import ApprovalRequest
from sage_tui.core.agent.checkpoints import Checkpoints
from sage_tui.core.agent.prompts import TEXT_TOOLS
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import PromptParts, untrusted
from sage_tui.core.llm.errors import ToolsUnsupported
from sage_tui.core.llm.types import ToolCall
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import EventName, Sink, ToolError, ToolResult
from sage_tui.core.log.redaction import clip
from sage_tui.core.tools.policy import Policy
from sage_tui.core.tools.registry import ToolContext, ToolFailure, ToolOutput, ToolRegistry
from sage_tui.core.workspace.workspace import PathDenied

MAX_STEPS = 16
MAX_SAME_FAILURE = 3
RESULT_LIMIT = 12_000

SUGGESTIONS = {
    "timeout": "The call took too long; narrow it (a smaller range, a more specific query) "
               "or try a different approach.",
    "not_found": "Call list_files to see which files exist, then use an exact path.",
    "permission_denied": "Stay inside the workspace: relative paths such as 'src/app.py', "
                         "never .git, and only tools the policy allows.",
    "validation_error": "Fix the arguments to match the tool's schema and call again.",
    "execution_error": "Read the error, change the call, and do not repeat it unchanged.",
}
_JSON_BLOCK = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)


@dataclass
class LoopResult:
    status: str  # "ok" or "failed"
    answer: str
    steps: int
    unrecovered: list[str] = field(default_factory=list)
    failures: list[ToolError] = field(default_factory=list)


class ToolLoop:
    """Runs one role's conversation with tools until it answers."""

    def __init__(self, llm: LLMClient, registry: ToolRegistry, policy: Policy,
                 checkpoints: Checkpoints, sink: Sink, context: ToolContext,
                 max_steps: int = MAX_STEPS) -> None:
        self.llm = llm
        self.registry = registry
        self.policy = policy
        self.checkpoints = checkpoints
        self.sink = sink
        self.context = context
        self.max_steps = max_steps
        self.text_mode = False
        self._calls = 0
        self._offered: list[str] = []

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    async def run(self, role: str, parts: PromptParts, tools: list[str]) -> LoopResult:
        """Ask `role` until it answers; it may call only `tools` (others are refused)."""
        self._offered = list(tools)
        failures: dict[str, int] = {}
        last_failed: dict[str, str] = {}  # tool → message of its last failure
        log: list[ToolError] = []
        steps = 0
        answer = ""
        while steps < self.max_steps:
            steps += 1
            calls, answer = await self._ask(role, parts, tools)
            if not calls:
                break
            for call in calls:
                content, error = await self._one(call, failures)
                if error is None:
                    last_failed.pop(call.name, None)
                else:
                    last_failed[call.name] = error["message"]
                    log.append(error)
                self._feed(parts, call, content)
                key = _key(call)
                if failures.get(key, 0) >= MAX_SAME_FAILURE:
                    message = (f"{call.name} failed {MAX_SAME_FAILURE} times with the same "
                               f"arguments: {last_failed[call.name]}")
                    return LoopResult("failed", answer, steps, [message], log)
        else:
            last_failed["loop"] = f"the model used all {self.max_steps} steps without finishing"
        unrecovered = [message if message.startswith(tool) else f"{tool}: {message}"
                       for tool, message in last_failed.items()]  # never "read_file: read_file:"
        return LoopResult("failed" if unrecovered else "ok", answer, steps, unrecovered, log)

    async def _ask(self, role: str, parts: PromptParts, tools: list[str]
                   ) -> tuple[list[ToolCall], str]:
        if not self.text_mode:
            try:
                result = await self.llm.call(role, parts,
                                             tools=self.registry.declarations(tools))
            except ToolsUnsupported:
                self.text_mode = True
                parts.system += "\n\n" + TEXT_TOOLS.format(
                    tools=self.registry.describe_for_text(tools))
            else:
                if result.tool_calls:
                    parts.followup.append({"role": "assistant", "content": result.content,
                                           "tool_calls": [
                                               {"function": {"name": c.name,
                                                             "arguments": dict(c.arguments)}}
                                               for c in result.tool_calls]})
                return list(result.tool_calls), result.content
        result = await self.llm.call(role, parts)
        call = _text_call(result.content)
        if call is not None:
            parts.followup.append({"role": "assistant", "content": result.content})
            return [call], result.content
        return [], result.content

    def _feed(self, parts: PromptParts, call: ToolCall, content: str) -> None:
        if len(content) > RESULT_LIMIT:
            content = clip(content, RESULT_LIMIT) + f"\n[... {len(content) - RESULT_LIMIT} characters cut]"
        if self.text_mode:
            parts.followup.append({"role": "user", "content": f"Result of {call.name}:\n"
                                   + untrusted(f"tool {call.name}", content)})
        else:
            parts.followup.append({"role": "tool", "content": untrusted(f"tool {call.name}", content),
                                   "tool_name": call.name})

    async def _one(self, call: ToolCall, failures: dict[str, int]
                   ) -> tuple[str, ToolError | None]:
        self._calls += 1
        call_id = f"tool-{self._calls}"
        self._emit(EventName.TOOL_CALL, {"tool": call.name, "args": dict(call.arguments),
                                         "call_id": call_id})
        key = _key(call)
        try:
            tool, args = self.registry.check(call.name, call.arguments, self._offered)
            await self.judge(call.name, tool.effect, tool.targets(self.context, args))
            output: ToolOutput = await asyncio.wait_for(
                asyncio.to_thread(tool.run, self.context, args), timeout=tool.timeout)
        except (ToolFailure, OSError, ValueError) as exc:  # OSError covers timeouts and PathDenied
            failure = _classify(exc, call.name)
            failures[key] = failures.get(key, 0) + 1
            suggestion = failure.suggestion or SUGGESTIONS[failure.kind]
            data: ToolError = {"tool": call.name, "call_id": call_id, "kind": failure.kind,
                               "message": failure.message, "suggestion": suggestion,
                               "attempt": failures[key]}
            self._emit(EventName.TOOL_ERROR, data)
            return (f"ERROR ({failure.kind}): {failure.message}\nSuggestion: {suggestion}",
                    data)
        result: ToolResult = {"tool": call.name, "call_id": call_id, "ok": output.ok,
                              "summary": output.summary, "ms": output.data.get("ms", 0)}
        if "patch_id" in output.data:
            result["patch_id"] = str(output.data["patch_id"])
        if "exit_code" in output.data:
            result["exit_code"] = int(output.data["exit_code"])
        self._emit(EventName.TOOL_RESULT, result)
        for event in output.events:
            if event.name in tool.emits:  # a tool reports only the events it declares
                self.sink(event)
        return output.content, None

    async def judge(self, tool: str, effect: str, targets: list[str]) -> None:
        """The policy's verdict on a call, each target judged, as the mode acts on it; `ask`
        is a tool checkpoint.

        Raises:
            ToolFailure: `permission_denied`, naming the target and the rule (or the person).
        """
        verdict, rule, decisive = self.policy.decide_all(tool, effect, targets)
        verdict, rule = self.checkpoints.verdict(verdict, rule, effect)
        target = ",".join(targets)
        self._emit(EventName.POLICY_DECISION, {"tool": tool, "target": target,
                                               "verdict": verdict, "rule": rule})
        if verdict == "allow":
            return
        if verdict == "deny":
            raise ToolFailure("permission_denied", f"The tool policy denies {tool} on {decisive} "
                              f"({rule}).", "Do without it, or ask the user to change "
                              "SAGE_TOOL_POLICY.")
        decision = await self.checkpoints.ask(
            ApprovalRequest("tool", f"Allow {tool} on {target}?", tool=tool, target=target))
        if decision.decision == "approve_session":
            self.policy.allow_for_session(tool, target)
        elif decision.decision != "approve":
            why = f": {decision.comment}" if decision.comment else ""
            raise ToolFailure("permission_denied", f"The user denied {tool} on {target}{why}.",
                              "Do without it, or explain why it is needed.")

def _key(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True, default=str)


def _classify(exc: BaseException, tool: str) -> ToolFailure:
    if isinstance(exc, ToolFailure):
        return exc
    if isinstance(exc, PathDenied):
        return ToolFailure("permission_denied", str(exc))
    if isinstance(exc, FileNotFoundError):
        return ToolFailure("not_found", f"{exc.filename or 'the file'} does not exist.")
    if isinstance(exc, asyncio.TimeoutError):
        return ToolFailure("timeout", f"{tool} did not finish in time and was abandoned.")
    return ToolFailure("execution_error", f"{tool} failed: {exc}")


def _text_call(content: str) -> ToolCall | None:
    """A JSON tool call in plain text, as asked of models without native tool calls."""
    match = _JSON_BLOCK.search(content)
    raw = match.group(1) if match else content.strip()
    if not raw.startswith("{"):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
        return None
    args = data.get("arguments")
    return ToolCall(data["tool"], args if isinstance(args, dict) else {})
