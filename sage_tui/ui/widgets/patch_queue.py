"""The patch queue: every proposed patch, its files, hunks and state, with progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.widgets import OptionList
from textual.widgets.option_list import Option


@dataclass
class QueuedPatch:
    patch_id: str
    files: list[str]
    hunks: int
    state: str = "pending"  # pending, reviewing, applied, failed, rejected
    decided: dict[str, str] = field(default_factory=dict)

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
        super().__init__(id=id)
        self.patches: dict[str, QueuedPatch] = {}
        self.border_title = "Patches"

    def propose(self, patch_id: str, files: list[str], hunks: int) -> None:
        self.patches[patch_id] = QueuedPatch(patch_id, list(files), hunks)
        self._redraw()

    def decide(self, patch_id: str, hunk_id: str, decision: str) -> None:
        queued = self.patches.get(patch_id)
        if queued is not None:
            if decision in ("approve", "reject", "edit"):
                queued.decided[hunk_id] = decision
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
        done = sum(1 for p in self.patches.values() if p.state in ("applied", "failed", "rejected"))
        self.border_title = f"Patches [{done}/{len(self.patches)}]"
