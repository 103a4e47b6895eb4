"""The gate every patch passes: proposed, decided hunk by hunk at a checkpoint, applied.

The code flow, `sage review` and `sage apply` all go through it, so each writes the same
records: PATCH_PROPOSED, the patch checkpoint (HUMAN_CHECKPOINT_REACHED, one HUNK_DECISION
per decision as it is made, CHECKPOINT_RESOLVED), then PATCH_APPLIED or PATCH_FAILED; and
every hunk decision goes to the audit with who made it.

A patch the person leaves for later (`defer`) waits here, with the decisions made so far,
until it is reopened and applied or discarded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.agent.checkpoints import PERSON, Checkpoints
from sage_tui.core.errors import SageError
from sage_tui.core.log.emitting import Emit, emitter
from sage_tui.core.log.events import (
    CommitCreated,
    EventName,
    HunkVerdict,
    PatchOutcome,
    PatchProposed,
    Sink,
)
from sage_tui.core.log.redaction import clip
from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import Hunk, Patch
from sage_tui.core.patch.result import ApplyResult
from sage_tui.core.patch.review import HunkReview
from sage_tui.core.workspace.commits import Commit, NothingToCommit, commit_files, with_trailer

MAX_LOGGED_DIFF = 200_000  # the diff rides along in PATCH_PROPOSED, for review and replay


@dataclass
class PatchGate:
    """Proposes, asks about and applies patches; keeps the ones waiting for a person."""

    checkpoints: Checkpoints
    engine: PatchEngine
    sink: Sink
    waiting: dict[str, HunkReview] = field(default_factory=dict)
    last_failure: str = ""  # why the last apply failed, for the person
    landed: dict[str, list[str]] = field(default_factory=dict)  # applied, not committed yet
    committed: dict[str, str] = field(default_factory=dict)  # patch id → the commit holding it

    def propose(self, patch: Patch, *, description: str | None = None,
                source: str | None = None) -> None:
        """Announce a new patch (PATCH_PROPOSED, with its diff for review and replay)."""
        proposed: PatchProposed = {"patch_id": patch.patch_id, "files": patch.paths,
                                   "hunks": len(patch.hunks)}
        if description is not None:
            proposed["description"] = description
        if source is not None:
            proposed["source"] = source
        proposed["diff"] = clip(patch.text(), MAX_LOGGED_DIFF)
        self._emit(EventName.PATCH_PROPOSED, proposed)

    async def decide(self, patch: Patch, review: HunkReview | None = None) -> Decision:
        """The patch checkpoint: a person (or the mode) decides its hunks.

        `review` holds the decisions made before the patch was left waiting; the reviewer
        shows them and carries on from there, and the person decides it whatever the mode
        (they asked to reopen it).
        """
        def on_hunk(hunk: Hunk, decision: str, comment: str | None) -> None:
            self._emit(EventName.HUNK_DECISION, {
                "patch_id": patch.patch_id, "hunk_id": hunk.hunk_id, "hunk_sha": hunk.sha,
                "decision": cast(HunkVerdict, decision), "comment": comment, "path": hunk.path})
            self.engine.audit("hunk_decision", patch_id=patch.patch_id, hunk_id=hunk.hunk_id,
                              hunk_sha=hunk.sha, decision=decision, comment=comment,
                              who=PERSON if person else f"{self.checkpoints.mode} mode")

        person = self.checkpoints.blocking or review is not None  # a reopened patch: theirs

        review = review if review is not None else HunkReview(patch)  # the approver decides in it
        try:
            decision = await self.checkpoints.ask(
                ApprovalRequest("patch", f"Review patch {patch.patch_id}", patch=patch,
                                on_hunk=on_hunk, review=review),
                person=person)
        except asyncio.CancelledError:  # the turn was stopped: the patch waits, as decided so far
            self.waiting[patch.patch_id] = review
            self._emit(EventName.CHECKPOINT_RESOLVED, {
                "checkpoint": "patch", "decision": "defer", "comment": "the turn was stopped",
                "by": PERSON, "patch_id": patch.patch_id})
            raise
        if decision.decision == "defer":
            self.waiting[patch.patch_id] = decision.review or review
        else:
            self.waiting.pop(patch.patch_id, None)
        return decision

    @property
    def _emit(self) -> Emit:
        """The sink, typed: each event's payload is checked against its TypedDict."""
        return emitter(self.sink)

    async def undo(self, check_only: bool = False, *, redo: bool = False,
                   expect: str | None = None) -> dict[str, Any]:
        """Undo the newest applied patch (PATCH_REVERTED), or with `redo` apply the newest
        undone one again (PATCH_APPLIED, `redone`); with `check_only`, only say what it would
        do; with `expect` (the `undo_id` a preview returned), only that patch. Returns the
        manifest (patch id, files, diff, reverse diff) with its `undo_id`.

        Raises:
            UndoError: nothing to undo or redo, or a file changed since (named).
        """
        step = self.engine.redo if redo else self.engine.undo
        undo_id, manifest = await asyncio.to_thread(step, check_only, expect)
        if not check_only:
            outcome: PatchOutcome = {"patch_id": str(manifest["patch_id"]),
                                     "files": [str(f["path"]) for f in manifest["files"]],
                                     "hunks": [], "undo_id": undo_id}
            if redo:
                outcome["redone"] = True
                self.landed[outcome["patch_id"]] = outcome["files"]
                self.committed.pop(outcome["patch_id"], None)  # landed again, not committed
                self._emit(EventName.PATCH_APPLIED, outcome)
            else:
                self.landed.pop(outcome["patch_id"], None)
                self._emit(EventName.PATCH_REVERTED, outcome)
        return {**manifest, "undo_id": undo_id}

    def waiting_review(self, patch_id: str) -> HunkReview:
        """The review of a waiting patch.

        Raises:
            SageError: when no patch by that id waits.
        """
        review = self.waiting.get(patch_id)
        if review is None:
            raise SageError(f"Patch {patch_id} is not waiting for review; it was applied, "
                            "discarded, or belongs to another session.")
        return review

    async def apply(self, review: HunkReview) -> ApplyResult:
        """Apply the approved hunks (PATCH_APPLIED or PATCH_FAILED)."""
        result = await asyncio.to_thread(self.engine.apply, review.patch, review.approved)
        if result.ok:
            self.landed[review.patch.patch_id] = list(result.files)
            self._emit(EventName.PATCH_APPLIED, result.payload())
        else:
            self._emit(EventName.PATCH_FAILED, result.payload())
        self.last_failure = "" if result.ok else result.reason
        return result

    async def commit(self, message: str, *, session_id: str, model: str | None,
                     by: str = PERSON, files: list[str] | None = None,
                     reverts: str | None = None) -> Commit:
        """Commit what SAGE applied and has not committed yet (or exactly `files`), with the
        trailer naming `model` and `session_id` (COMMIT_CREATED).

        Raises:
            CommitError: nothing to commit, or git refused; nothing was changed.
        """
        patches = [] if files is not None else list(self.landed)
        chosen = files if files is not None else sorted(
            {path for paths in self.landed.values() for path in paths})
        try:
            made = await asyncio.to_thread(commit_files, self.engine.workspace, chosen,
                                           with_trailer(message, session_id, model))
        except NothingToCommit:
            for patch_id in patches:  # committed by hand: nothing of them is left to offer
                self.landed.pop(patch_id, None)
            raise
        for patch_id in patches:
            self.committed[patch_id] = made.sha
            self.landed.pop(patch_id, None)
        if reverts is not None:  # the patches that commit held are no longer in history's tip
            for patch_id in [p for p, sha in self.committed.items() if sha == reverts]:
                del self.committed[patch_id]
        created: CommitCreated = {"sha": made.sha, "message": made.message,
                                  "files": list(made.files), "by": by, "patches": patches}
        if reverts is not None:
            created["reverts"] = reverts
        self._emit(EventName.COMMIT_CREATED, created)
        return made
