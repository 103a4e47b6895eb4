"""The patch queue: every proposed patch, its files, hunks and state, with progress.

It is the workbench's one store of patches: each patch's diff is kept here (from
PATCH_PROPOSED, live or replayed) with the hunk decisions recorded for it, so the reviewer
can reopen it as it was decided. A patch the person left for later shows "waiting".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from textual.widgets import OptionList
from textual.widgets.option_list import Option

from sage_tui.core.log.events import EventName
from sage_tui.ui.records import Handler, Record, data_of

STATES = {EventName.PATCH_APPLIED: "applied", EventName.PATCH_FAILED: "failed",
          EventName.PATCH_REVERTED: "reverted"}


@dataclass
class QueuedPatch:
    patch_id: str
    files: list[str]
    hunks: int
    state: str = "pending"  # pending, reviewing, waiting, applied, failed, discarded, reverted
    decided: dict[str, str] = field(default_factory=dict)
    diff: str = ""

    def label(self) -> str:
        approved = sum(1 for d in self.decided.values() if d in ("approve", "edit"))
        rejected = sum(1 for d in self.decided.values() if d == "reject")
        progress = f"[{len(self.decided)}/{self.hunks}]"
        files = ", ".join(self.files[:3]) + (" …" if len(self.files) > 3 else "")
        return (f"{self.state:<9} {self.patch_id}  {progress} +{approved} -{rejected}  "
                f"{self.hunks} hunk{'s' if self.hunks != 1 else ''} in {files}")


class PatchQueue(OptionList):
    """Patches by id; Enter opens one in the diff reviewer (handled by the app)."""

    DEFAULT_CSS = """
    PatchQueue { height: auto; max-height: 8; border: round $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)  # file names come from the model
        self.patches: dict[str, QueuedPatch] = {}
        self.border_title = "Patches"

    def record_handlers(self) -> Mapping[EventName, Handler]:
        return {EventName.PATCH_PROPOSED: self._proposed, EventName.HUNK_DECISION: self._decided,
                EventName.HUMAN_CHECKPOINT_REACHED: self._checkpoint,
                EventName.CHECKPOINT_RESOLVED: self._checkpoint,
                **dict.fromkeys(STATES, self._ended)}

    def _checkpoint(self, record: Record) -> None:
        data = data_of(record)
        if data.get("checkpoint") != "patch" or not data.get("patch_id"):
            return
        state = {"defer": "waiting", "reject": "discarded"}.get(str(data.get("decision")),
                                                                "reviewing")
        if record.get("event") == EventName.HUMAN_CHECKPOINT_REACHED or state != "reviewing":
            self.set_state(str(data["patch_id"]), state)

    def _proposed(self, record: Record) -> None:
        data = data_of(record)
        self.propose(str(data.get("patch_id")), list(data.get("files") or []),
                     int(data.get("hunks") or 0), str(data.get("diff") or ""))

    def _decided(self, record: Record) -> None:
        data = data_of(record)
        self.decide(str(data.get("patch_id")), str(data.get("hunk_id")), str(data.get("decision")))

    def _ended(self, record: Record) -> None:
        name = EventName(str(record.get("event")))
        self.set_state(str(data_of(record).get("patch_id")), STATES[name])

    def propose(self, patch_id: str, files: list[str], hunks: int, diff: str = "") -> None:
        self.patches[patch_id] = QueuedPatch(patch_id, list(files), hunks, diff=diff)
        self._redraw()

    def remember(self, patch_id: str, diff: str) -> None:
        """Keep a patch's whole diff (the log's copy may be cut for size)."""
        queued = self.patches.get(patch_id)
        if queued is not None:
            queued.diff = diff

    def diff(self, patch_id: str) -> str:
        """A patch's diff, or "" when it is not known here."""
        queued = self.patches.get(patch_id)
        return queued.diff if queued is not None else ""

    def decide(self, patch_id: str, hunk_id: str, decision: str) -> None:
        queued = self.patches.get(patch_id)
        if queued is not None:
            if decision in ("approve", "reject", "edit"):
                queued.decided[hunk_id] = decision
            elif decision == "undo":
                queued.decided.pop(hunk_id, None)
            queued.state = "reviewing"
            self._redraw()

    def set_state(self, patch_id: str, state: str) -> None:
        queued = self.patches.get(patch_id)
        if queued is not None:
            queued.state = state
            self._redraw()

    def _redraw(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(Option(p.label(), id=p.patch_id) for p in self.patches.values())
        if highlighted is not None and highlighted < len(self.patches):
            self.highlighted = highlighted
        done = sum(1 for p in self.patches.values()
                   if p.state in ("applied", "failed", "discarded", "reverted"))
        self.border_title = f"Patches [{done}/{len(self.patches)}]"
