"""The checkpoint service: the one place that decides "ask a person, or let the mode decide".

Every checkpoint (the plan, a patch, a tool call the policy asks about) goes through
`Checkpoints.ask`, which announces it (HUMAN_CHECKPOINT_REACHED), gets the decision from
the person's approver in research mode or from the mode otherwise, and records it
(CHECKPOINT_RESOLVED) with who decided. One payload shape for every checkpoint; its
details (the patch id, the tool and target) ride on both events. The time a person takes
to decide does not count against the turn's deadline.

Modes act by effect (`verdict`): auto and silent approve plans and patches (reviewable,
logged, undoable) but never turn a policy's `ask` on a `run` effect into allow: that
becomes `deny`, with the reason in POLICY_DECISION and in what the model hears.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

from sage_tui.core.agent.approval import ApprovalRequest, Approver, Decision, ModeApprover
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import CheckpointReached, CheckpointResolved, EventName, Sink

_Payload = TypeVar("_Payload", CheckpointReached, CheckpointResolved)

PERSON = "person"


@dataclass
class Checkpoints:
    """Asks the person (research mode) or lets the mode answer (auto, silent)."""

    sink: Sink
    approver: Approver
    mode: str = "research"
    deadline: asyncio.Timeout | None = None  # the running turn's; paused while a person decides

    @property
    def blocking(self) -> bool:
        """Whether checkpoints stop for a person now."""
        return self.mode == "research"

    def verdict(self, verdict: str, rule: str, effect: str) -> tuple[str, str]:
        """The policy's verdict as this mode acts on it: `ask` on `run` is `deny` unless a
        person answers."""
        if verdict == "ask" and effect == "run" and not self.blocking:
            return "deny", (f"{rule}; {self.mode} mode never runs a command the policy only "
                            "asks about")
        return verdict, rule

    async def ask(self, request: ApprovalRequest, *, person: bool = False) -> Decision:
        """Announce a checkpoint, get its decision (a person's or the mode's), record it.

        `person`: the person asked for this checkpoint (they reopened a waiting patch), so
        they answer it whatever the mode.
        """
        blocking = self.blocking or person
        reached: CheckpointReached = {
            "checkpoint": request.checkpoint, "mode": self.mode, "blocking": blocking,
            "skipped": not blocking, "title": request.title}
        self._emit(EventName.HUMAN_CHECKPOINT_REACHED, _details(reached, request))
        if blocking:
            decision = await self._person(request)
        else:
            decision = await ModeApprover().decide(request)
        if decision.by is None:
            decision.by = PERSON if blocking else f"{self.mode} mode"
        resolved: CheckpointResolved = {
            "checkpoint": request.checkpoint, "decision": decision.decision,
            "comment": decision.comment, "by": decision.by}
        if decision.steps is not None:
            resolved["steps"] = decision.steps
        self._emit(EventName.CHECKPOINT_RESOLVED, _details(resolved, request))
        return decision

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    async def _person(self, request: ApprovalRequest) -> Decision:
        """The approver's decision, with the turn's clock stopped while it is awaited."""
        deadline, loop = self.deadline, asyncio.get_running_loop()
        when = deadline.when() if deadline is not None else None
        if deadline is None or when is None:
            return await self.approver.decide(request)
        left = when - loop.time()
        deadline.reschedule(None)
        try:
            return await self.approver.decide(request)
        finally:
            deadline.reschedule(loop.time() + max(left, 0.0))


def _details(payload: _Payload, request: ApprovalRequest) -> _Payload:
    """The checkpoint's details on its events: the patch id, or the tool and its target."""
    if request.patch is not None:
        payload["patch_id"] = request.patch.patch_id
    if request.tool is not None:
        payload["tool"] = request.tool
        payload["target"] = request.target or ""
    return payload
