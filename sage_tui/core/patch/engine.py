"""Applying approved hunks atomically, undoing and redoing, and recovering: the patch engine.

Applying the chosen hunks: (1) every path is checked by the workspace (confinement: no `..`,
no `.git`/`.sage`, no links) and each hunk against the file's bytes, so a failure names the
hunk and the closest match; (2) `git apply --recount` runs on a scratch copy in SAGE's own
state folder and verifies every hunk before it writes, so a patch that does not apply
changes nothing (bytes go in and come out as they are: CRLF, Latin-1, any file name);
(3) the results are staged in the workspace's `.sage/staging/` (same filesystem), every
target's folder is opened and held (no link followed) and proven writable; a journal naming
every rename is written to the state folder, the renames are done through the held folders,
the undo records are updated, and the journal is removed.

A process killed during step 3 leaves a journal; `recover()` (run before any patch
operation) finishes the renames and the undo records, so the files end all-before or
all-after and `undo` reverts exactly what is on disk. Undo records, the audit trail and
the patch lock live in the state folder too: a repository cannot plant them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sage_tui.core.errors import SageError
from sage_tui.core.patch.audit import AuditTrail
from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.lock import patch_lock
from sage_tui.core.patch.model import Patch
from sage_tui.core.patch.result import ApplyResult, HunkResult
from sage_tui.core.patch.review import reverse_diff
from sage_tui.core.patch.staging import Outcome, try_on_copy
from sage_tui.core.patch.staging import remove_tree as _remove_tree
from sage_tui.core.patch.staging import scratch_root as _scratch_root
from sage_tui.core.patch.staging import stage as _stage
from sage_tui.core.patch.staging import sync_all as _sync_all
from sage_tui.core.workspace.state import SageFolder, check_workspace, write_json_atomic
from sage_tui.core.workspace.workspace import PathDenied, Workspace

if TYPE_CHECKING:  # the journal loads when a change is made or recovered, not for a check
    from sage_tui.core.patch import journal as journals
    from sage_tui.core.patch.journal import Journal


class UndoError(SageError):
    """Nothing to undo, or the files changed since the apply."""


class RecoveryFailed(SageError):
    """An interrupted change could not be finished yet; the message says why."""


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class PatchEngine:
    """Checks, applies and undoes patches in one workspace.

    Args:
        workspace: The confined workspace.
        state: SAGE's trusted folder for this workspace (journal, undo records, audit, lock).
    """

    workspace: Workspace
    state: Path
    audit_context: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool = False  # `--check`: no recovery now; `awaits_recovery` says one is due

    def __post_init__(self) -> None:
        check_workspace(self.workspace.root)
        self.sage = SageFolder(self.workspace.root)
        self.sage.check()
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.journal = self.state / "journal.json"
        self.undo_dir = self.state / "undo"
        self.trail = AuditTrail(self.state / "audit.jsonl", self.audit_context)
        self.recovered: Journal | None = None
        self.kept: list[str] = []  # files recovery left alone because somebody edited them
        self.awaits_recovery = self.read_only and self.journal.exists()
        if self.journal.exists() and not self.read_only:
            self.recover()

    # -- audit ----------------------------------------------------------------------
    def audit(self, action: str, **data: Any) -> None:
        """Append one line to the audit trail (who, what, which hash, ids)."""
        self.trail.write(action, **data)

    # -- recovery -------------------------------------------------------------------
    def recover(self) -> bool:
        """Finish a change that was interrupted after its journal was written.

        Returns True when something was completed (then `recovered` holds it).

        Raises:
            RecoveryFailed: it cannot be finished now; the journal stays for later.
        """
        with patch_lock(self.state):
            return self._recover()

    def _recover(self) -> bool:
        from sage_tui.core.patch import journal as journals

        try:
            done = journals.replay(self.journal, self.workspace, self.sage, self._finish)
        except journals.JournalInvalid as exc:
            self.audit("journal_set_aside", reason=str(exc))
            return False
        except (PathDenied, OSError) as exc:
            raise RecoveryFailed(
                f"An interrupted patch operation could not be finished ({exc}); nothing else "
                "will be changed until it can. Fix that and run `sage apply --check`.") from exc
        self._clean_staging()
        if done is None:
            return False
        self.recovered, self.kept = done
        self.audit("recovered", kind=done[0].kind, undo_id=done[0].undo_id,
                   files=[e.path for e in done[0].entries], kept_as_edited=done[1])
        return True

    def recovery_note(self) -> str:
        """One sentence about what recovery finished before this command, or ""."""
        if self.recovered is None:
            return ""
        note = (f"Finished an interrupted {self.recovered.kind} of {len(self.recovered.entries)} file(s) "
                f"(undo record {self.recovered.undo_id}) before this command")
        if self.kept:
            note += f"; kept your later edits to {', '.join(self.kept)}"
        return note + "."

    def _clean_staging(self) -> None:
        if not (self.workspace.root / ".sage" / "staging").is_dir():
            return
        with contextlib.suppress(OSError), self.sage.open("staging") as fd:
            for name in os.listdir(fd):
                with contextlib.suppress(OSError):
                    _remove_tree(fd, name)

    # -- reading --------------------------------------------------------------------
    def _read(self, path: str) -> bytes | None:
        try:
            return self.workspace.read_bytes(path, honour_hidden=False)
        except FileNotFoundError:
            return None

    def _paths(self, patch: Patch, chosen: set[str]) -> list[str]:
        paths = [f.path for f in patch.files if any(h.hunk_id in chosen for h in f.hunks)]
        normal = [self.workspace.normalize(p) for p in paths]
        if len(set(normal)) != len(normal):
            raise PathDenied("The diff names one file twice (in two spellings); merge its hunks "
                             "under one header.")
        return paths

    def _results(self, patch: Patch, chosen: set[str], status: str,
                 failures: Mapping[str, str]) -> list[HunkResult]:
        out = []
        for hunk in patch.hunks:
            if hunk.hunk_id in failures:
                out.append(HunkResult(hunk.hunk_id, hunk.index, hunk.path, "failed",
                                      failures[hunk.hunk_id]))
            elif hunk.hunk_id in chosen:
                out.append(HunkResult(hunk.hunk_id, hunk.index, hunk.path,
                                      "failed" if failures else status,
                                      "not applied: another hunk failed" if failures else ""))
            else:
                out.append(HunkResult(hunk.hunk_id, hunk.index, hunk.path, "skipped"))
        return out

    def _precheck(self, patch: Patch, chosen: set[str]
                  ) -> tuple[list[str], dict[str, bytes | None], dict[str, str]]:
        """Check and read every affected file once; diagnose every chosen hunk."""
        try:
            paths = self._paths(patch, chosen)
            contents = {path: self._read(path) for path in paths}
        except (PathDenied, IsADirectoryError) as exc:
            reason = str(exc) if isinstance(exc, PathDenied) else f"{exc.filename} is a folder"
            return [f.path for f in patch.files], {}, {h: reason for h in chosen}

        def read_text(path: str) -> str | None:
            data = contents.get(path)
            return None if data is None else data.decode("utf-8", "surrogateescape")

        failures = {p.hunk_id: p.message for p in diagnose(patch, read_text, chosen)}
        return paths, contents, failures

    # -- git on a scratch copy ------------------------------------------------------
    def _scratch_apply(self, diff: str, contents: Mapping[str, bytes | None],
                       reverse: bool = False) -> tuple[dict[str, Outcome] | None, str]:
        """Run git apply on a private copy; (each file's outcome, or None; git's error)."""
        modes = {path: self._mode(path) for path, data in contents.items() if data is not None}
        return try_on_copy(diff, contents, modes, _scratch_root(self.state), reverse)

    def _mode(self, path: str) -> int | None:
        info = self.workspace.lstat(path)
        return None if info is None else info.st_mode & 0o777

    # -- check ----------------------------------------------------------------------
    def check(self, patch: Patch, hunk_ids: Iterable[str] | None = None) -> ApplyResult:
        """Would these hunks apply? Writes nothing in the workspace."""
        chosen = set(hunk_ids) if hunk_ids is not None else {h.hunk_id for h in patch.hunks}
        paths, contents, failures = self._precheck(patch, chosen)
        if not failures and chosen:
            _, error = self._scratch_apply(patch.text(chosen), contents)
            if error:
                failures = {h: error for h in chosen}
        reason = "; ".join(dict.fromkeys(failures.values()))
        return ApplyResult(not failures and bool(chosen), patch.patch_id, paths,
                           self._results(patch, chosen, "ok", failures),
                           reason or ("" if chosen else "no hunk was chosen"), checked_only=True)

    # -- apply ----------------------------------------------------------------------
    def apply(self, patch: Patch, hunk_ids: Iterable[str] | None = None) -> ApplyResult:
        """Apply exactly the chosen hunks (all by default), all files or none."""
        with patch_lock(self.state):
            return self._apply(patch, hunk_ids)

    def _apply(self, patch: Patch, hunk_ids: Iterable[str] | None) -> ApplyResult:
        if self.read_only:
            raise SageError("This patch engine was opened read-only; it only checks.")
        self._recover()
        chosen = set(hunk_ids) if hunk_ids is not None else {h.hunk_id for h in patch.hunks}
        if not chosen:
            return ApplyResult(False, patch.patch_id, [], self._results(patch, chosen, "", {}),
                               "no hunk was approved, so nothing was applied")
        paths, contents, failures = self._precheck(patch, chosen)
        diff = patch.text(chosen)
        outcomes = None
        if not failures:
            outcomes, error = self._scratch_apply(diff, contents)
            if outcomes is None:
                failures = {h: error for h in chosen}
        if not failures and outcomes is not None:
            undo_id = (f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{patch.patch_id}-"
                       f"{os.urandom(3).hex()}")  # unique: two applies in a second stay two
            manifest = {"patch_id": patch.patch_id, "diff": diff, "reverse": reverse_diff(diff),
                        "files": [{"path": p, "before": _sha(contents[p]),
                                   "after": _sha(outcomes[p].data)} for p in paths]}
            try:
                self._change("apply", undo_id, contents, outcomes, manifest)
            except PathDenied as exc:
                failures = {h: str(exc) for h in chosen}
        if failures:
            reason = "; ".join(dict.fromkeys(failures.values()))
            self.audit("apply_failed", patch_id=patch.patch_id, reason=reason)
            return ApplyResult(False, patch.patch_id, paths,
                               self._results(patch, chosen, "applied", failures), reason)
        self.audit("applied", patch_id=patch.patch_id, undo_id=undo_id,
                   hunks=[{"hunk_id": h, "hunk_sha": patch.hunk(h).sha} for h in sorted(chosen)])
        return ApplyResult(True, patch.patch_id, paths,
                           self._results(patch, chosen, "applied", {}), undo_id=undo_id)

    def _change(self, kind: journals.Kind, undo_id: str, contents: Mapping[str, bytes | None],
                outcomes: Mapping[str, Outcome], manifest: dict[str, Any] | None = None) -> None:
        """Stage the outcomes, hold the targets' folders, then journal, rename and finish.

        Raises:
            PathDenied: anything that stops the change before its journal is written; the
                tree is as it was.
        """
        from sage_tui.core.patch import journal as journals

        apply_id = f"{os.getpid()}-{os.urandom(8).hex()}"
        entries = []
        before = {path: _sha(contents.get(path)) for path in outcomes}
        with self.sage.open("staging", apply_id, fresh=True) as staging:
            try:
                try:
                    opened: list[int] = []
                    try:
                        for number, (path, outcome) in enumerate(outcomes.items()):
                            staged = None if outcome.data is None else str(number)
                            if staged is not None:
                                opened.append(_stage(staging, staged, outcome))
                            entries.append(journals.Entry(path, staged, before[path], _sha(outcome.data)))
                    finally:
                        _sync_all(opened)
                    os.fsync(staging)
                    if manifest is not None:
                        write_json_atomic(self.undo_dir / undo_id / "manifest.json", manifest)
                except OSError as exc:
                    if isinstance(exc, PathDenied):
                        raise
                    raise PathDenied(f"Cannot stage the change ({exc.strerror or exc}); nothing "
                                     "was changed.") from exc
                with journals.open_targets(self.workspace, before, staging) as targets:
                    journals.commit(self.journal, journals.Journal(kind, undo_id, apply_id, tuple(entries)),
                                    staging, targets, self._finish)
            except Exception:  # (a dying process leaves the journal for the next start)
                if self.journal.exists():
                    self._recover()  # the journal promised "after": keep that promise now
                raise
            finally:
                if not self.journal.exists():
                    for entry in entries:
                        if entry.staged is not None:
                            with contextlib.suppress(OSError):
                                os.unlink(entry.staged, dir_fd=staging)
        self._clean_staging()

    def _finish(self, journal: Journal) -> None:
        """The undo records follow the files: an apply pushes onto `applied` (and forgets what
        was undone), an undo moves its record to `undone`, a redo moves it back."""
        applied, undone = self._stacks()
        if journal.kind == "apply":
            applied = [*(i for i in applied if i != journal.undo_id), journal.undo_id]
            undone = []
        elif journal.kind == "undo" and journal.undo_id in applied:
            applied.remove(journal.undo_id)
            undone.append(journal.undo_id)
        elif journal.kind == "redo" and journal.undo_id in undone:
            undone.remove(journal.undo_id)
            applied.append(journal.undo_id)
        write_json_atomic(self.undo_dir / "stack.json", {"applied": applied, "undone": undone})

    # -- undo and redo ----------------------------------------------------------------
    def _stacks(self) -> tuple[list[str], list[str]]:
        import json  # not at import: `sage apply --check` starts without it

        try:
            data = json.loads((self.undo_dir / "stack.json").read_text(encoding="utf-8"))
            return ([str(i) for i in data.get("applied", []) if isinstance(i, str)],
                    [str(i) for i in data.get("undone", []) if isinstance(i, str)])
        except (OSError, ValueError, AttributeError):
            return [], []

    def undo_stack(self) -> list[str]:
        """Undo ids of applied patches, oldest first."""
        return self._stacks()[0]
    def last_undo(self, redo: bool = False) -> tuple[str, dict[str, Any]]:
        """The last apply that can be undone (with `redo`: the last undo that can be redone),
        and its manifest."""
        import json  # not at import: `sage apply --check` starts without it

        stack = self._stacks()[1 if redo else 0]
        undo_id = stack[-1] if stack else ""
        manifest_file = self.undo_dir / undo_id / "manifest.json"
        if not undo_id or not manifest_file.exists():
            raise UndoError("Nothing to redo: no undone patch waits." if redo else "Nothing to "
                            "undo: no patch has been applied in this workspace (or undone).")
        manifest: dict[str, Any] = json.loads(manifest_file.read_text(encoding="utf-8"))
        return undo_id, manifest

    def undo(self, check_only: bool = False, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """Restore the last apply's files if unchanged (with `expect`: if it is that one)."""
        with patch_lock(self.state):
            return self._step(check_only, redo=False, expect=expect)

    def redo(self, check_only: bool = False, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """Apply the last undone patch again, if nobody changed its files since the undo."""
        with patch_lock(self.state):
            return self._step(check_only, redo=True, expect=expect)

    def _step(self, check_only: bool, redo: bool, expect: str | None) -> tuple[str, dict[str, Any]]:
        if self.read_only and not check_only:
            raise SageError("This patch engine was opened read-only; it only checks.")
        if not self.read_only:
            self._recover()
        undo_id, manifest = self.last_undo(redo)
        if expect is not None and undo_id != expect:
            raise UndoError(f"The newest patch is now {manifest['patch_id']}; nothing changed.")
        word: journals.Kind = "redo" if redo else "undo"
        patch_id = manifest["patch_id"]
        paths = [str(f["path"]) for f in manifest["files"]]
        try:
            contents = {path: self._read(path) for path in paths}
        except PathDenied as exc:
            raise UndoError(f"Cannot {word} patch {patch_id}: {exc}") from exc
        expected = "before" if redo else "after"
        changed = [f["path"] for f in manifest["files"] if _sha(contents[f["path"]]) != f[expected]]
        if changed:
            raise UndoError(f"Cannot {word} patch {patch_id}: {', '.join(changed)} changed since "
                            f"it was {'undone' if redo else 'applied'}; revert those edits first "
                            f"(`sage {word} --check` shows the patch).")
        if check_only:
            return undo_id, manifest
        outcomes, error = self._scratch_apply(manifest["diff"], contents, reverse=not redo)
        try:
            if outcomes is None:
                raise PathDenied(f"the patch does not apply ({error})")
            self._change(word, undo_id, contents, outcomes)
        except PathDenied as exc:
            raise UndoError(f"Cannot {word} patch {patch_id}: {exc}") from exc
        self.audit("reapplied" if redo else "reverted", patch_id=patch_id, undo_id=undo_id)
        return undo_id, manifest
