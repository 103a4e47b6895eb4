"""Continuing a session from its log: the log is the only store.

`History.read(records)` walks a session's records once and keeps what a continued
session needs: the turn number, the transcript (each turn's message and the answer that
went into the conversation), the rolling summary, the token ledger's calls, the mode,
the models the person chose with `/model`, and the patches still waiting for the person
with their hunk decisions. `/clear` (CONVERSATION_CLEARED) starts the transcript afresh.

Everything comes back as the log has it, redacted: a secret the log never held does not
return. A waiting patch whose diff was redacted or cut for size cannot be applied as
written, so it is not restored; `History.lost` says which and why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sage_tui.core.llm.types import Message
from sage_tui.core.log.events import MODES, EventName, Mode
from sage_tui.core.log.recorder import Record

REDACTED_MARK = "[REDACTED:"  # what redaction puts in place of a secret
SHOWN_RECORDS = 4_000  # the newest records the workbench redraws on continuing
ANSWERING = ("coder", "reviewer", "summarizer")  # roles whose answers are in the transcript


@dataclass
class PendingPatch:
    """A patch that waits for the person: its diff and the hunk decisions made so far."""

    patch_id: str
    diff: str
    hunks: int = 0  # as proposed: a diff cut for size in the log has fewer
    decided: dict[str, str] = field(default_factory=dict)
    shas: dict[str, str] = field(default_factory=dict)  # hunk id → the sha it was decided on
    comments: dict[str, list[str]] = field(default_factory=dict)  # what the person said
    reopened: bool = False  # it was left waiting once, so a failed apply keeps it waiting
    approved: bool = False  # decided at its checkpoint; waiting only if that apply failed


@dataclass
class History:
    """What a continued session takes from its log."""

    turn: int = 0
    last_seq: int = 0
    mode: Mode | None = None
    workspace: str | None = None
    transcript: list[Message] = field(default_factory=list)
    summary: str = ""
    absorbed: int = 0
    usage: list[dict[str, Any]] = field(default_factory=list)  # TOKEN_USAGE payloads
    chosen_models: dict[str, str] = field(default_factory=dict)  # role → tag, from /model
    waiting: dict[str, PendingPatch] = field(default_factory=dict)
    last_change: tuple[str, str] | None = None  # the latest code turn: request, summary
    landed: dict[str, list[str]] = field(default_factory=dict)  # applied, not yet committed
    committed: dict[str, str] = field(default_factory=dict)  # patch id → commit sha
    lost: list[str] = field(default_factory=list)  # sentences: what could not come back
    records: deque[Record] = field(default_factory=lambda: deque(maxlen=SHOWN_RECORDS))
    patch_ids: set[str] = field(default_factory=set)  # every id given out: never again
    pinned: list[str] = field(default_factory=list)  # from the last CONTEXT_CHANGED
    counters: dict[str, int] = field(default_factory=dict)  # "llm", "person" → highest N

    @property
    def empty(self) -> bool:
        return self.last_seq == 0

    @classmethod
    def read(cls, records: Iterable[Record]) -> History:
        history = cls()
        asked: dict[int, str] = {}  # turn → the person's message, until its answer
        patches: dict[str, PendingPatch] = {}
        for record in records:
            history._take(record, asked, patches)
        for patch in patches.values():
            if patch.approved:  # decided with no hunk approved, or crashed while applying
                continue
            if REDACTED_MARK in patch.diff or not _whole(patch):
                history.lost.append(f"Patch {patch.patch_id} waited, but the log keeps it "
                                    "redacted or cut, so it cannot be applied as it was; ask "
                                    "for the change again.")
            else:
                history.waiting[patch.patch_id] = patch
        return history

    def _take(self, record: Record, asked: dict[int, str],
              patches: dict[str, PendingPatch]) -> None:
        self.records.append(record)
        self.last_seq = max(self.last_seq, int(record.get("seq") or 0))
        self.turn = max(self.turn, int(record.get("turn") or 0))
        event = str(record.get("event"))
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        assert isinstance(data, dict)
        call_id = str(data.get("call_id") or "")
        kind, _, number = call_id.rpartition("-")
        if kind in ("llm", "person") and number.isdigit():
            self.counters[kind] = max(self.counters.get(kind, 0), int(number))
        if event == EventName.PATCH_PROPOSED:
            self.patch_ids.add(str(data.get("patch_id")))
        turn = int(record.get("turn") or 0)
        if event in (EventName.SESSION_STARTED, EventName.SESSION_RESUMED):
            self.workspace = self.workspace or data.get("workspace")
            if data.get("mode") in MODES:
                self.mode = data["mode"]
        elif event == EventName.MODE_CHANGED and data.get("to") in MODES:
            self.mode = data["to"]
        elif event == EventName.USER_MESSAGE:
            asked[turn] = str(data.get("text", ""))
        elif event == EventName.ASSISTANT_MESSAGE and data.get("role") in ANSWERING:
            if turn in asked:  # a turn's answer: the pair joins the transcript, as it did live
                task, answer = asked.pop(turn), str(data.get("text", ""))
                self.transcript += [{"role": "user", "content": task},
                                    {"role": "assistant", "content": answer}]
                if data.get("role") == "reviewer":  # a code turn: what a commit would describe
                    self.last_change = (task, answer)
        elif event == EventName.CONTEXT_CHANGED:
            self.pinned = [str(p) for p in data.get("pinned") or []]
        elif event == EventName.SUMMARY_UPDATED:
            self.summary = str(data.get("text", ""))
            self.absorbed = min(int(data.get("absorbed") or 0), len(self.transcript))
        elif event == EventName.CONVERSATION_CLEARED:
            self.transcript, self.summary, self.absorbed = [], "", 0
            asked.clear()
        elif event == EventName.TOKEN_USAGE:
            self.usage.append(data)
        elif event == EventName.MODEL_ROUTING_DECISION and data.get("reason") == "user" \
                and "call_id" not in data:
            self.chosen_models[str(data.get("role"))] = str(data.get("model"))
        else:
            self._landing(event, data)
            _patch_event(event, data, patches)

    def _landing(self, event: str, data: dict[str, Any]) -> None:
        """Which applied patches are not committed yet, and which commit holds the others."""
        patch_id = str(data.get("patch_id") or "")
        if event == EventName.PATCH_APPLIED and patch_id:
            self.landed[patch_id] = [str(f) for f in data.get("files") or []]
            self.committed.pop(patch_id, None)
        elif event == EventName.PATCH_REVERTED and patch_id:
            self.landed.pop(patch_id, None)
        elif event == EventName.COMMIT_CREATED:
            for held in data.get("patches") or []:
                self.committed[str(held)] = str(data.get("sha"))
                self.landed.pop(str(held), None)
            if data.get("reverts"):
                self.committed = {p: sha for p, sha in self.committed.items()
                                  if sha != data["reverts"]}


def _patch_event(event: str, data: dict[str, Any], patches: dict[str, PendingPatch]) -> None:
    """Follow one patch through the log: proposed, decided, left waiting, landed."""
    patch_id = str(data.get("patch_id") or "")
    if not patch_id:
        return
    if event == EventName.PATCH_PROPOSED:
        patches[patch_id] = PendingPatch(patch_id, str(data.get("diff") or ""),
                                         int(data.get("hunks") or 0))
        return
    patch = patches.get(patch_id)
    if patch is None:
        return
    if event == EventName.HUNK_DECISION:
        hunk, decision = str(data.get("hunk_id")), str(data.get("decision"))
        if data.get("comment"):
            patch.comments.setdefault(hunk, []).append(str(data["comment"]))
        if decision in ("approve", "reject"):
            patch.decided[hunk] = decision
            patch.shas[hunk] = str(data.get("hunk_sha") or "")
        elif decision in ("undo", "edit"):  # an edit's new text is not in the log: decide again
            patch.decided.pop(hunk, None)
    elif event == EventName.CHECKPOINT_RESOLVED and data.get("checkpoint") == "patch":
        verdict = data.get("decision")
        if verdict == "defer":
            patch.reopened, patch.approved = True, False
        elif verdict == "reject":  # discarded
            patches.pop(patch_id, None)
        else:
            patch.approved = True
    elif event == EventName.PATCH_APPLIED or (event == EventName.PATCH_FAILED
                                              and not patch.reopened):
        patches.pop(patch_id, None)
    elif event == EventName.PATCH_FAILED:  # a reopened patch that did not apply still waits
        patch.approved = False


def _whole(patch: PendingPatch) -> bool:
    """The logged diff parses into the hunks that were proposed (not cut for size, not even
    inside a line: a diff SAGE writes ends in a newline), and each decided hunk reads as it
    did when the person decided it."""
    from sage_tui.core.patch.model import PatchError, parse_patch
    from sage_tui.core.patch.review import recorded_review

    if not patch.diff.endswith("\n"):
        return False
    try:
        if len(parse_patch(patch.diff, patch_id=patch.patch_id).hunks) != patch.hunks:
            return False
        review = recorded_review(patch.diff, patch.patch_id, patch.decided)
        return all(review.patch.hunk(h).sha == sha for h, sha in patch.shas.items()
                   if sha and h in patch.decided)
    except (PatchError, ValueError, KeyError):
        return False
