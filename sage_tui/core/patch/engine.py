"""Applying approved hunks atomically, undoing the last apply, and the audit trail.

Applying the chosen hunks:

1. every path is resolved through the workspace (confinement) and each hunk is
   checked against the file on disk, so a failure names the hunk and the closest match;
2. `git apply --recount` runs on a scratch copy of the affected files; it verifies
   every hunk before it writes, so a patch that does not apply changes nothing;
3. the results are staged in `.sage/staging/` and fsynced, a journal naming every
   rename is written, the renames are done, and the journal is removed.

A process killed during step 3 leaves a journal; `recover()` (run before any patch
operation) finishes the renames, so the files end all-before or all-after. Each
apply keeps what undo needs in `.sage/undo/`: the files as they were, their hashes
after the apply, and the reverse patch to show. Every decision is appended to
`.sage/audit.jsonl`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sage_tui.core.errors import SageError
from sage_tui.core.log.events import EventName
from sage_tui.core.patch.audit import AuditTrail
from sage_tui.core.patch.check import diagnose
from sage_tui.core.patch.journal import commit_journal, replay_journal
from sage_tui.core.patch.model import Patch, reverse_diff
from sage_tui.core.workspace.state import ensure_sage_dir, write_json_atomic
from sage_tui.core.workspace.workspace import PathDenied, Workspace

GIT_TIMEOUT = 120


class UndoError(SageError):
    """Nothing to undo, or the files changed since the apply."""


class PatchBusy(SageError):
    """Another process is changing this workspace's files right now."""


@contextlib.contextmanager
def _patch_lock(sage: Path, wait: float = 10.0) -> Iterator[None]:
    """One apply, undo or recovery at a time per workspace, across processes."""
    fd = os.open(sage / "patch.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PatchBusy("Another sage process is applying a patch in this workspace; "
                                    "wait for it to finish and try again.") from None
                time.sleep(0.05)
            except ImportError:  # no fcntl (Windows): one process at a time is on the user
                break
        yield
    finally:
        os.close(fd)


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

    def event(self) -> tuple[EventName, dict[str, Any]]:
        """The PATCH_APPLIED or PATCH_FAILED event that reports this result."""
        data = {"patch_id": self.patch_id, "files": self.files,
                "hunks": [{"hunk_id": h.hunk_id, "status": h.status, "reason": h.reason}
                          for h in self.hunks]}
        if self.ok:
            return EventName.PATCH_APPLIED, {**data, "undo_id": self.undo_id}
        return EventName.PATCH_FAILED, {**data, "reason": self.reason}


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


_datasync = getattr(os, "fdatasync", os.fsync)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _datasync(fd)
    finally:
        os.close(fd)


@dataclass
class PatchEngine:
    """Checks, applies and undoes patches in one workspace."""

    workspace: Workspace
    audit_context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sage = ensure_sage_dir(self.workspace.root)
        self.journal = self.sage / "apply-journal.json"
        self.staging = self.sage / "staging"
        self.undo_dir = self.sage / "undo"
        self.trail = AuditTrail(self.sage / "audit.jsonl", self.audit_context)
        self.recover()

    # -- audit ----------------------------------------------------------------------
    def audit(self, action: str, **data: Any) -> None:
        """Append one line to `.sage/audit.jsonl` (who, what, which hash, ids)."""
        self.trail.write(action, **data)

    # -- recovery -------------------------------------------------------------------
    def recover(self) -> bool:
        """Finish an apply that was interrupted after its journal was written.

        Returns True when something was completed. Staged files without a journal
        belong to an apply that never started touching the tree: they are removed.
        """
        with _patch_lock(self.sage):
            return self._recover()

    def _recover(self) -> bool:
        """`recover` without taking the lock (callers hold it).

        Returns True when something was completed. Staged files without a journal
        belong to an apply that never started touching the tree: they are removed.
        """
        return replay_journal(self.journal, self.staging, self.workspace.root)

    # -- checking and applying ------------------------------------------------------
    def _read(self, path: str) -> bytes | None:
        try:
            return self.workspace.read_bytes(path)
        except FileNotFoundError:
            return None

    def _resolve_all(self, patch: Patch, chosen: set[str]) -> list[str]:
        paths = [f.path for f in patch.files if any(h.hunk_id in chosen for h in f.hunks)]
        for path in paths:
            self.workspace.resolve(path, write=True)
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

    def _scratch_apply(self, diff: str, contents: Mapping[str, bytes | None], check_only: bool,
                       reverse: bool = False) -> tuple[Path | None, str]:
        """Run git apply on a scratch copy; returns (scratch dir or None, git's error)."""
        # On the workspace's own file system, so results can be renamed straight into place.
        self.staging.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="apply-", dir=self.staging))
        made: set[Path] = {scratch}
        for path, data in contents.items():
            if data is not None:
                target = scratch / path
                if target.parent not in made:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.add(target.parent)
                target.write_bytes(data)
        args = ["git", "apply", "--recount", "--unidiff-zero", "--whitespace=nowarn"]
        if check_only:
            args.append("--check")
        if reverse:
            args.append("--reverse")
        # No repository here: git apply then works on plain files relative to the scratch dir.
        env = {**os.environ, "GIT_DIR": str(scratch / ".no-git"), "GIT_CEILING_DIRECTORIES":
               str(scratch.parent)}
        proc = subprocess.run(args, input=diff.encode(), cwd=scratch,
                              capture_output=True, timeout=GIT_TIMEOUT, env=env)
        error = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            return None, error or "git apply failed"
        if check_only:
            shutil.rmtree(scratch, ignore_errors=True)
        return scratch, ""

    def _precheck(self, patch: Patch, chosen: set[str]
                  ) -> tuple[list[str], dict[str, bytes | None], dict[str, str]]:
        """Resolve and read every affected file once; diagnose every chosen hunk."""
        try:
            paths = self._resolve_all(patch, chosen)
        except PathDenied as exc:
            return [], {}, {h: str(exc) for h in chosen}
        contents = {path: self._read(path) for path in paths}

        def read_text(path: str) -> str | None:
            data = contents.get(path)
            return None if data is None else data.decode("utf-8", "surrogateescape")

        failures = {p.hunk_id: p.message for p in diagnose(patch, read_text, chosen)}
        return paths, contents, failures

    def check(self, patch: Patch, hunk_ids: Iterable[str] | None = None) -> ApplyResult:
        """Would these hunks apply? Writes nothing."""
        chosen = set(hunk_ids) if hunk_ids is not None else {h.hunk_id for h in patch.hunks}
        paths, contents, failures = self._precheck(patch, chosen)
        if not failures and chosen:
            _, error = self._scratch_apply(patch.text(chosen), contents, check_only=True)
            if error:
                failures = {h: error for h in chosen}
        reason = "; ".join(dict.fromkeys(failures.values()))
        return ApplyResult(not failures and bool(chosen), patch.patch_id, paths,
                           self._results(patch, chosen, "ok", failures),
                           reason or ("" if chosen else "no hunk was chosen"), checked_only=True)

    def apply(self, patch: Patch, hunk_ids: Iterable[str] | None = None) -> ApplyResult:
        """Apply exactly the chosen hunks (all by default), all files or none."""
        with _patch_lock(self.sage):
            return self._apply(patch, hunk_ids)

    def _apply(self, patch: Patch, hunk_ids: Iterable[str] | None) -> ApplyResult:
        self._recover()
        chosen = set(hunk_ids) if hunk_ids is not None else {h.hunk_id for h in patch.hunks}
        if not chosen:
            return ApplyResult(False, patch.patch_id, [], self._results(patch, chosen, "", {}),
                               "no hunk was approved, so nothing was applied")
        paths, contents, failures = self._precheck(patch, chosen)
        scratch = None
        diff = patch.text(chosen)
        if not failures:
            scratch, error = self._scratch_apply(diff, contents, check_only=False)
            if scratch is None:
                failures = {h: error for h in chosen}
        if failures or scratch is None:
            reason = "; ".join(dict.fromkeys(failures.values()))
            result = ApplyResult(False, patch.patch_id, paths,
                                 self._results(patch, chosen, "applied", failures), reason)
            self.audit("apply_failed", patch_id=patch.patch_id, reason=reason)
            return result
        undo_id = self._swap_safely(patch.patch_id, diff, contents, scratch)
        (self.sage / "last_apply").write_text(undo_id + "\n")
        result = ApplyResult(True, patch.patch_id, paths,
                             self._results(patch, chosen, "applied", {}), undo_id=undo_id)
        self.audit("applied", patch_id=patch.patch_id, undo_id=undo_id,
                   hunks=[{"hunk_id": h, "hunk_sha": patch.hunk(h).sha} for h in sorted(chosen)])
        return result

    def _swap_safely(self, patch_id: str, diff: str, contents: Mapping[str, bytes | None],
                     scratch: Path, undo_of: str | None = None) -> str:
        """`_swap`, finishing it at once if it fails after its journal was written."""
        try:
            return self._swap(patch_id, diff, contents, scratch, undo_of)
        except Exception:
            if self.journal.exists():
                self._recover()  # the journal promised "after": keep that promise now
            raise
        finally:
            if not self.journal.exists():  # the journal still needs the staged files
                shutil.rmtree(scratch, ignore_errors=True)

    def _swap(self, patch_id: str, diff: str, contents: Mapping[str, bytes | None],
              scratch: Path, undo_of: str | None = None) -> str:
        """Stage the scratch results, journal, rename; returns the undo id."""
        undo_id = undo_of or f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{patch_id}"
        entries: list[dict[str, Any]] = []
        manifest: list[dict[str, Any]] = []
        for path, before in contents.items():
            result = scratch / path
            after = result.read_bytes() if result.exists() else None
            manifest.append({"path": path, "before": _sha(before), "after": _sha(after)})
            if after is None:
                entries.append({"path": path, "staged": None, "delete": True})
                continue
            _sync_file(result)  # durable before the journal names it
            if before is not None:
                with contextlib.suppress(OSError):
                    os.chmod(result, os.stat(self.workspace.root / path).st_mode & 0o7777)
            entries.append({"path": path, "staged": str(result), "delete": False})
        if undo_of is None:
            # What undo needs: the applied diff (reversed by git) and each file's hash after.
            write_json_atomic(self.undo_dir / undo_id / "manifest.json",
                              {"patch_id": patch_id, "files": manifest, "diff": diff,
                               "reverse": reverse_diff(diff)})
        commit_journal(self.journal, self.workspace.root, undo_id, entries)
        return undo_id

    # -- undo -----------------------------------------------------------------------
    def last_undo(self) -> tuple[str, dict[str, Any]]:
        """The last apply that can be undone, and its manifest."""
        marker = self.sage / "last_apply"
        undo_id = marker.read_text().strip() if marker.exists() else ""
        manifest_file = self.undo_dir / undo_id / "manifest.json"
        if not undo_id or not manifest_file.exists():
            raise UndoError("Nothing to undo: no patch has been applied in this workspace "
                            "(or the last one was already undone).")
        return undo_id, json.loads(manifest_file.read_text(encoding="utf-8"))

    def undo(self, check_only: bool = False) -> tuple[str, dict[str, Any]]:
        """Restore the files of the last apply, if nobody changed them since."""
        with _patch_lock(self.sage):
            return self._undo(check_only)

    def _undo(self, check_only: bool) -> tuple[str, dict[str, Any]]:
        self._recover()
        undo_id, manifest = self.last_undo()
        paths = [f["path"] for f in manifest["files"]]
        contents = {path: self._read(path) for path in paths}
        changed = [f["path"] for f in manifest["files"] if _sha(contents[f["path"]]) != f["after"]]
        if changed:
            raise UndoError(f"Cannot undo patch {manifest['patch_id']}: "
                            f"{', '.join(changed)} changed since it was applied; revert those "
                            "edits first, or undo by hand with the reverse patch in "
                            f".sage/undo/{undo_id}/manifest.json.")
        if check_only:
            return undo_id, manifest
        for path in paths:
            self.workspace.resolve(path, write=True)
        scratch, error = self._scratch_apply(manifest["diff"], contents, check_only=False,
                                             reverse=True)
        if scratch is None:
            raise UndoError(f"Cannot undo patch {manifest['patch_id']}: the reverse patch does "
                            f"not apply ({error}).")
        self._swap_safely(manifest["patch_id"], manifest["diff"], contents, scratch, undo_of=undo_id)
        (self.sage / "last_apply").unlink()
        self.audit("reverted", patch_id=manifest["patch_id"], undo_id=undo_id)
        return undo_id, manifest
