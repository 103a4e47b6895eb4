"""The `code` route: plan → checkpoint → coder with tools → patch review → apply → tests → review.

Up to three rounds: a round ends with the approved hunks applied and the tests run;
another follows when tests fail, a patch did not apply, or the person rejected hunks
with comments (which the coder hears, and Memory keeps as lessons). The reviewer
role then sums up. Research mode stops at every checkpoint (the plan is written to
`.sage/last_plan.json` first); auto and silent log them as skipped and go on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sage_tui.core.agent.approval import ApprovalRequest
from sage_tui.core.agent.checkpoints import PERSON, Checkpoints
from sage_tui.core.agent.experts import MemoryStore
from sage_tui.core.agent.prompts import CODER_SYSTEM, PLANNER_SYSTEM, REVIEWER_SYSTEM
from sage_tui.core.agent.toolloop import ToolLoop
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import Packet, PromptParts
from sage_tui.core.llm.types import Message
from sage_tui.core.log.events import Event, EventName, Sink
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.core.patch.result import ApplyResult
from sage_tui.core.tools.policy import Policy
from sage_tui.core.tools.registry import ToolContext, ToolFailure, ToolRegistry

MAX_ROUNDS = 3
MAX_LOGGED_DIFF = 200_000  # the diff rides along in PATCH_PROPOSED, for review and replay
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["steps"],
}


@dataclass
class FlowOutcome:
    status: str  # "ok", "failed" or "rejected"
    answer: str
    reason: str = ""


@dataclass
class CodeFlow:
    """Everything the code route needs; built by `sage_tui.factory`."""

    llm: LLMClient
    sink: Sink
    registry: ToolRegistry
    policy: Policy
    engine: PatchEngine
    memory: MemoryStore
    tool_context: ToolContext
    checkpoints: Checkpoints
    tests_skipped: str = ""  # why the policy kept the last test run from running

    @property
    def mode(self) -> str:
        """The mode the checkpoints act in (the orchestrator switches it)."""
        return self.checkpoints.mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.checkpoints.mode = mode

    def _emit(self, name: EventName, data: dict[str, Any]) -> None:
        self.sink(Event(name, data))

    def _loop(self) -> ToolLoop:
        return ToolLoop(self.llm, self.registry, self.policy, self.checkpoints, self.sink,
                        self.tool_context)

    async def run(self, task: str, packets: list[Packet], summary: str,
                  transcript: list[Message], on_delta: Callable[[str], None] | None
                  ) -> FlowOutcome:
        steps = await self._plan(task, packets, summary, transcript)
        plan_path = None
        if self.mode == "research":
            plan = {"task": task, "steps": steps,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            plan_file = await asyncio.to_thread(
                self.engine.sage.write, "last_plan.json",
                (json.dumps(plan, ensure_ascii=False, indent=2) + "\n").encode())
            plan_path = str(plan_file.relative_to(self.engine.workspace.root))
        self._emit(EventName.PLAN_CREATED, {"steps": steps, "path": plan_path})
        decision = await self.checkpoints.ask(ApprovalRequest("plan", "Approve the plan?", steps=steps))
        if decision.decision == "reject":
            why = f": {decision.comment}" if decision.comment else ""
            return FlowOutcome("rejected", f"Stopped: the plan was rejected{why}.", "plan rejected")
        if decision.decision == "edit" and decision.steps:
            steps = decision.steps
        notes = [f"The user says about the plan: {decision.comment}"] \
            if decision.decision == "respond" and decision.comment else []
        applied: list[tuple[Patch, ApplyResult]] = []
        tests: dict[str, Any] | None = None
        failure = ""
        apply_failure = ""
        attempted = False
        rounds = 0
        for round_number in range(1, MAX_ROUNDS + 1):
            rounds = round_number
            brief = _brief(task, steps, notes, round_number)
            parts = PromptParts(CODER_SYSTEM, brief, list(packets), summary, list(transcript))
            self.tool_context.proposed.clear()
            result = await self._loop().run("coder", parts, self.registry.offered("coder"))
            notes = []
            patches = list(self.tool_context.proposed)
            if result.status != "ok":
                failure = "; ".join(result.unrecovered)
            if not patches:
                if not attempted:  # the coder changed nothing: its answer is the answer
                    status = "ok" if result.status == "ok" else "failed"
                    return FlowOutcome(status, result.answer.strip() or failure, failure)
                break
            attempted = True
            round_applied = False
            for patch in patches:
                outcome = await self._review_and_apply(patch, notes)
                if outcome == "quit":
                    return FlowOutcome("rejected", "Stopped: the patch review was ended.",
                                       "review ended")
                if isinstance(outcome, ApplyResult):
                    applied.append((patch, outcome))
                    round_applied = True
                    apply_failure = ""
                elif outcome == "failed":
                    apply_failure = f"patch {patch.patch_id} did not apply"
            if round_applied:
                tests = await self._tests()
                if tests is not None and tests["exit_code"] != 0:
                    notes.append("The tests failed after your change; fix the code (not the "
                                 f"tests, unless they are wrong):\n{tests['output']}")
            if not notes:
                break
        if tests is not None and tests["exit_code"] != 0:
            failure = failure or f"the tests still fail after {rounds} round(s)"
        elif apply_failure:
            failure = failure or f"{apply_failure} and was not replaced by one that does"
        answer = await self._review(task, applied, tests, notes, on_delta)
        return FlowOutcome("failed" if failure else "ok", answer, failure)

    async def _plan(self, task: str, packets: list[Packet], summary: str,
                    transcript: list[Message]) -> list[str]:
        result = await self.llm.call("planner", PromptParts(PLANNER_SYSTEM, task, list(packets),
                                                            summary, list(transcript)),
                                     format=PLAN_SCHEMA)
        try:
            data = json.loads(result.content)
            steps = [str(s).strip() for s in data.get("steps", []) if str(s).strip()]
        except (ValueError, AttributeError):
            steps = [line.strip(" -*0123456789.") for line in result.content.splitlines()
                     if line.strip(" -*0123456789.")]
        return steps or [task]

    async def _review_and_apply(self, patch: Patch, notes: list[str]) -> ApplyResult | str | None:
        """Review one patch and apply what was approved.

        Returns the `ApplyResult`, "failed" when it did not apply, "quit" when the person
        stopped the review, or None when no hunk was approved.
        """
        self._emit(EventName.PATCH_PROPOSED, {"patch_id": patch.patch_id, "files": patch.paths,
                                              "hunks": len(patch.hunks),
                                              "description": patch.description,
                                              "diff": patch.text()[:MAX_LOGGED_DIFF]})

        def on_hunk(hunk: Hunk, decision: str, comment: str | None) -> None:
            self._emit(EventName.HUNK_DECISION, {"patch_id": patch.patch_id,
                                                 "hunk_id": hunk.hunk_id, "hunk_sha": hunk.sha,
                                                 "decision": decision, "comment": comment,
                                                 "path": hunk.path})
            self.engine.audit("hunk_decision", patch_id=patch.patch_id, hunk_id=hunk.hunk_id,
                              hunk_sha=hunk.sha, decision=decision, comment=comment,
                              who=PERSON if self.checkpoints.blocking else f"{self.mode} mode")

        decision = await self.checkpoints.ask(ApprovalRequest(
            "patch", f"Review patch {patch.patch_id}", patch=patch, on_hunk=on_hunk))
        review = decision.review
        if review is not None:
            feedback = review.feedback()
            if feedback:
                notes.append(f"The user reviewed patch {patch.patch_id}:\n{feedback}\nAddress "
                             "their comments with a new propose_patch.")
            for hunk_id in review.rejected if decision.by == PERSON else ():
                said = "; ".join(review.comments.get(hunk_id, []))  # lessons: people only
                if said:
                    hunk = review.patch.hunk(hunk_id)
                    await asyncio.to_thread(self.memory.add_lesson,
                                            f"A change to {hunk.path} was rejected: {said}")
        if decision.decision == "reject":
            return "quit"
        if review is None or not review.approved:
            return None
        result = await asyncio.to_thread(self.engine.apply, review.patch, review.approved)
        self._emit(*result.event())
        if result.ok:
            return result
        notes.append(f"Patch {patch.patch_id} did not apply and nothing was changed: "
                     f"{result.reason}. Re-read the files and propose it again.")
        return "failed"

    async def _tests(self) -> dict[str, Any] | None:
        """Run the project's tests after an apply, if the policy allows it (None: not run)."""
        tool = self.registry.get("run_tests")
        try:
            await self._loop().judge(tool.name, tool.effect, tool.targets(self.tool_context, {}))
        except ToolFailure as exc:
            self.tests_skipped = exc.message
            return None
        try:
            output = await asyncio.to_thread(tool.run, self.tool_context, {})
        except ToolFailure as exc:
            if exc.kind == "not_found":
                return None  # no test command: nothing to run
            self._emit(EventName.ERROR, {"where": "tests", "kind": exc.kind,
                                         "message": exc.message})
            return {"exit_code": 1, "output": exc.message, "passed": 0, "failed": 1}
        for event in output.events:
            if event.name in tool.emits:  # as the tool loop does: only declared events
                self.sink(event)
        return {**output.data, "output": output.content[-6000:]}

    async def _review(self, task: str, applied: list[tuple[Patch, ApplyResult]],
                      tests: dict[str, Any] | None, notes: list[str],
                      on_delta: Callable[[str], None] | None) -> str:
        facts = [f"Request: {task}"]
        for patch, result in applied:
            facts.append(f"Applied patch {patch.patch_id} to {', '.join(result.files)}:\n"
                         + patch.text(h.hunk_id for h in result.hunks if h.status == "applied")[:4000])
        if not applied:
            facts.append("No change was applied.")
        if tests is None and self.tests_skipped:
            facts.append(f"The tests were not run: {self.tests_skipped}")
        elif tests is None:
            facts.append("No test command is configured, so no tests ran.")
        else:
            facts.append(f"Tests: exit code {tests['exit_code']}, {tests['passed']} passed, "
                         f"{tests['failed']} failed.")
        facts += notes
        review = await self.llm.call("reviewer", PromptParts(REVIEWER_SYSTEM, "\n\n".join(facts)),
                                     on_delta=on_delta)
        return review.content.strip()


def _brief(task: str, steps: list[str], notes: list[str], round_number: int) -> str:
    plan = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))
    text = f"Request: {task}\n\nPlan:\n{plan}"
    if notes:
        text += f"\n\nRound {round_number}. Feedback on the previous round:\n" + "\n\n".join(notes)
    return text
