"""What applying a patch did, hunk by hunk, and the event that reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the event types load with the session, not with `--check`
    from sage_tui.core.log.events import PatchOutcome


@dataclass(frozen=True)
class HunkResult:
    hunk_id: str
    index: int
    path: str
    status: str  # "applied", "ok" (checked), "skipped", "failed"
    reason: str = ""


@dataclass
class ApplyResult:
    """What happened to each hunk, and overall."""

    ok: bool
    patch_id: str
    files: list[str]
    hunks: list[HunkResult]
    reason: str = ""
    checked_only: bool = False
    undo_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "hunks": [asdict(h) for h in self.hunks]}

    def payload(self) -> PatchOutcome:
        """What PATCH_APPLIED (with the undo id) or PATCH_FAILED (with the reason) reports."""
        data: PatchOutcome = {
            "patch_id": self.patch_id, "files": self.files,
            "hunks": [{"hunk_id": h.hunk_id, "status": h.status, "reason": h.reason}
                      for h in self.hunks]}
        if self.ok:
            data["undo_id"] = self.undo_id
        else:
            data["reason"] = self.reason
        return data
