"""The `code` route: plan → checkpoint → coder with tools → patch review → apply → tests → review.

Up to three rounds: a round ends with the approved hunks applied and the tests run;
another follows when tests fail, a patch did not apply, or the person rejected hunks
with comments (which the coder hears, and Memory keeps as lessons). The reviewer
role then sums up. Research mode stops at every checkpoint (the plan is written to
`.sage/last_plan.json` first); auto and silent log them as skipped and go on.

A patch the person leaves for later ends the turn as "waiting"; `review_waiting` reopens
it (with the decisions made so far), applies what is approved and runs the tests.
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
from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.agent.patchgate import PatchGate
from sage_tui.core.agent.prompts import PLANNER_SYSTEM, REVIEWER_SYSTEM, coder_system
from sage_tui.core.agent.toolloop import ToolLoop
from sage_tui.core.llm.client import LLMClient
from sage_tui.core.llm.context import Packet, PromptParts, untrusted
from sage_tui.core.llm.types import Message
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import EventName, Sink
from sage_tui.core.log.redaction import clip, redact_value
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import Patch
from sage_tui.core.patch.result import ApplyResult
from sage_tui.core.patch.review import HunkReview
from sage_tui.core.tools.policy import Policy
from sage_tui.core.tools.registry import ToolContext, ToolFailure, ToolRegistry

MAX_ROUNDS = 3
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["steps"],
}


@dataclass
class FlowOutcome:
    status: str  # "ok", "failed", "rejected" or "waiting" (a patch waits in the queue)
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

    def __post_init__(self) -> None:
        self.gate = PatchGate(self.checkpoints, self.engine, self.sink)
        self.carried: list[str] = []  # what the person said on a reopened patch, for the coder

    @property
    def mode(self) -> str:
        """The mode the checkpoints act in (the orchestrator switches it)."""
        return self.checkpoints.mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.checkpoints.mode = mode

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    def _loop(self) -> ToolLoop:
        return ToolLoop(self.llm, self.registry, self.policy, self.checkpoints, self.sink,
                        self.tool_context)

    async def run(self, task: str, packets: list[Packet], summary: str,
                  transcript: list[Message], on_delta: Callable[[str], None] | None
                  ) -> FlowOutcome:
        steps = await self._plan(task, packets, summary, transcript)
        plan_path = await self._save_plan(task, steps) if self.mode == "research" else None
        self._emit(EventName.PLAN_CREATED, {"steps": steps, "path": plan_path})
        decision = await self.checkpoints.ask(ApprovalRequest("plan", "Approve the plan?", steps=steps))
        if decision.decision == "reject":
            why = f": {decision.comment}" if decision.comment else ""
            return FlowOutcome("rejected", f"Stopped: the plan was rejected{why}.", "plan rejected")
        if decision.decision == "edit" and decision.steps:
            steps = decision.steps  # CHECKPOINT_RESOLVED carries them; the plan file follows
            if plan_path is not None:
                await self._save_plan(task, steps, edited=True)
        notes = [f"The user says about the plan: {decision.comment}"] \
            if decision.decision == "respond" and decision.comment else []
        notes, self.carried = self.carried + notes, []
        applied: list[tuple[Patch, ApplyResult]] = []
        tests: dict[str, Any] | None = None
        failure = ""
        apply_failure = ""
        attempted = False
        waiting: list[str] = []
        rounds = 0
        for round_number in range(1, MAX_ROUNDS + 1):
            rounds = round_number
            brief = _brief(task, steps, notes, round_number)
            coder = coder_system(self.llm.router.primary("coder").edit_format)
            parts = PromptParts(coder, brief, list(packets), summary, list(transcript))
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
            discarded: list[str] = []
            for patch in patches:  # each patch of the round is put to the person
                outcome = await self._review_and_apply(patch, notes)
                if outcome == "quit":
                    discarded.append(patch.patch_id)
                elif outcome == "waiting":
                    waiting.append(patch.patch_id)
                elif isinstance(outcome, ApplyResult):
                    applied.append((patch, outcome))
                    round_applied = True
                    apply_failure = ""
                elif outcome == "failed":
                    apply_failure = f"patch {patch.patch_id} did not apply"
            if round_applied:
                tests = await self._tests()
                if tests is not None and tests["exit_code"] != 0:
                    notes.append("The tests failed after your change; fix the code (not the "
                                 "tests, unless they are wrong):\n"
                                 + untrusted("test output", tests["output"]))
            if waiting:
                return FlowOutcome("waiting", _waiting_answer(waiting, applied, tests),
                                   "patch waiting")
            if discarded and not applied:  # the person threw the work away: stop here
                return FlowOutcome("rejected", f"Stopped: patch {', '.join(discarded)} was "
                                   "discarded; nothing from it was applied.", "patch discarded")
            if not notes:
                break
        if tests is not None and tests["exit_code"] != 0:
            failure = failure or f"the tests still fail after {rounds} round(s)"
        elif apply_failure:
            failure = failure or f"{apply_failure} and was not replaced by one that does"
        answer = await self._review(task, applied, tests, notes, on_delta)
        return FlowOutcome("failed" if failure else "ok", answer, failure)

    async def _save_plan(self, task: str, steps: list[str], edited: bool = False) -> str:
        """Write `.sage/last_plan.json` (the plan as it stands); its workspace-relative path."""
        plan = redact_value({"task": task, "steps": steps, "edited": edited,  # as the log has it
                             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        plan_file = await asyncio.to_thread(
            self.engine.sage.write, "last_plan.json",
            (json.dumps(plan, ensure_ascii=False, indent=2) + "\n").encode())
        return str(plan_file.relative_to(self.engine.workspace.root))

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

    async def _review_and_apply(self, patch: Patch, notes: list[str],
                                review: HunkReview | None = None) -> ApplyResult | str | None:
        """Review one patch and apply what was approved.

        Returns the `ApplyResult`, "failed" when it did not apply, "waiting" when the person
        left it for later, "quit" when they discarded it, or None when no hunk was approved.
        `review` holds the decisions of a patch that waited (it was proposed already).
        """
        if review is None:
            self.gate.propose(patch, description=patch.description)
        decision = await self.gate.decide(patch, review)
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
        if decision.decision == "defer":
            return "waiting"
        if decision.decision == "reject":
            return "quit"
        if review is None or not review.approved:
            return None
        result = await self.gate.apply(review)
        if result.ok:
            return result
        notes.append(f"Patch {patch.patch_id} did not apply and nothing was changed: "
                     + untrusted("apply failure", result.reason)
                     + "\nRe-read the files and propose it again.")
        return "failed"

    async def review_waiting(self, patch_id: str) -> FlowOutcome:
        """Reopen a patch that waits: the person decides the rest, approved hunks are applied
        and the tests run. No model is called; what the person said is in the log, and the
        coder hears it with the next request.

        Raises:
            SageError: when no patch by that id waits.
        """
        review = self.gate.waiting_review(patch_id)
        notes: list[str] = []
        outcome = await self._review_and_apply(review.patch, notes, review)
        self.carried += [note for note in notes if note.startswith("The user reviewed")]
        if outcome == "waiting":
            return FlowOutcome("waiting", f"Patch {patch_id} still waits in the patch queue.")
        if outcome == "quit":
            return FlowOutcome("rejected", f"Patch {patch_id} was discarded; nothing from it "
                               "was applied.")
        if outcome is None:
            return FlowOutcome("ok", f"No hunk of patch {patch_id} was approved; nothing was "
                               "applied.")
        if not isinstance(outcome, ApplyResult):  # nothing changed; the decisions are kept
            self.gate.waiting[patch_id] = review
            return FlowOutcome("failed", f"Patch {patch_id} did not apply, and nothing was "
                               f"changed: {self.gate.last_failure}. It still waits in the queue: "
                               "reopen it to decide again, or discard it.",
                               f"patch {patch_id} did not apply")
        tests = await self._tests()
        answer = _applied_line(patch_id, outcome) + " " + _tests_line(tests, self.tests_skipped)
        failed = tests is not None and tests["exit_code"] != 0
        return FlowOutcome("failed" if failed else "ok", answer,
                           "the tests fail after the change" if failed else "")

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
        return {**output.data, "output": clip(output.content, 6000, tail=True)}

    async def _review(self, task: str, applied: list[tuple[Patch, ApplyResult]],
                      tests: dict[str, Any] | None, notes: list[str],
                      on_delta: Callable[[str], None] | None) -> str:
        facts = [f"Request: {task}"]
        for patch, result in applied:
            diff = patch.text(h.hunk_id for h in result.hunks if h.status == "applied")[:4000]
            facts.append(f"Applied patch {patch.patch_id} to {', '.join(result.files)}:\n"
                         + untrusted("applied diff", diff))
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


def _applied_line(patch_id: str, result: ApplyResult) -> str:
    count = sum(1 for h in result.hunks if h.status == "applied")
    return f"Patch {patch_id}: {count} hunk(s) applied to {', '.join(result.files)}."


def _tests_line(tests: dict[str, Any] | None, skipped: str) -> str:
    if tests is None:
        return f"The tests were not run: {skipped}" if skipped else "No tests ran."
    verdict = "pass" if tests["exit_code"] == 0 else "fail"
    return f"The tests {verdict} ({tests['passed']} passed, {tests['failed']} failed)."


def _waiting_answer(waiting: list[str], applied: list[tuple[Patch, ApplyResult]],
                    tests: dict[str, Any] | None) -> str:
    names = ", ".join(waiting)
    lines = [f"Patch {names} {'waits' if len(waiting) == 1 else 'wait'} in the patch queue: "
             "open it there to decide the rest and apply it, or discard it."]
    lines += [_applied_line(patch.patch_id, result) for patch, result in applied]
    if applied:
        lines.append(_tests_line(tests, ""))
    return "\n".join(lines)
