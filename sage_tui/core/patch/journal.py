"""The apply journal: the renames that turn staged files into the new tree, written first.

The journal lives in SAGE's trusted state folder, never in the workspace. Once it is
on disk the change is promised: `replay` (run before any later patch operation, after
a crash) finishes every rename it names, so the files end all-before or all-after,
and then runs the same last step as the interrupted operation (recording or removing
the undo record), so the record always agrees with the files.

Everything a journal names is checked again when it is replayed: a staged file is a
plain name in SAGE's own staging folder, and a target passes the workspace's
confinement; renames and deletions go through directory descriptors that follow no
link.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sage_tui.core.log.logfiles import fsync_dir
from sage_tui.core.workspace.state import SageFolder, write_json_atomic
from sage_tui.core.workspace.workspace import PathDenied, Workspace, check_kind

Kind = Literal["apply", "undo", "redo"]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_STAGED = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True)
class Entry:
    """One file of a change: rename `staged` over `path`, or delete `path`."""

    path: str
    staged: str | None  # a plain name in the staging folder; None deletes
    before: str | None = None  # sha256 of the file before (None: it did not exist)
    after: str | None = None  # sha256 after (None: deleted)


@dataclass(frozen=True)
class Journal:
    """A promised change: which files, from where, and what it records when done."""

    kind: Kind
    undo_id: str
    apply_id: str
    entries: tuple[Entry, ...]

    def to_json(self) -> dict[str, Any]:
        return {"v": 2, "kind": self.kind, "undo_id": self.undo_id, "apply_id": self.apply_id,
                "entries": [asdict(e) for e in self.entries]}


class JournalInvalid(ValueError):
    """A journal SAGE did not write as it reads now; it is set aside, never replayed."""


def load(path: Path) -> Journal | None:
    """The journal at `path`, or None; anything malformed raises `JournalInvalid`."""
    import json  # not at import: `sage apply --check` starts without it

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise JournalInvalid(f"unreadable ({exc})") from exc
    try:
        kind, undo_id, apply_id = data["kind"], data["undo_id"], data["apply_id"]
        entries = tuple(Entry(str(e["path"]), e["staged"], e.get("before"), e.get("after"))
                        for e in data["entries"])
    except (KeyError, TypeError) as exc:
        raise JournalInvalid(f"missing {exc}") from exc
    if kind not in ("apply", "undo", "redo") or not _ID.match(str(undo_id)) or not _ID.match(str(apply_id)):
        raise JournalInvalid("bad kind or id")
    for entry in entries:
        if entry.staged is not None and not _STAGED.match(str(entry.staged)):
            raise JournalInvalid(f"staged name {entry.staged!r} is not SAGE's")
    return Journal(kind, str(undo_id), str(apply_id), entries)


Targets = Mapping[str, tuple[int, str]]  # path → (descriptor of its folder, last name)


@contextlib.contextmanager
def open_targets(workspace: Workspace, expected: Mapping[str, str | None], staging: int
                 ) -> Iterator[dict[str, tuple[int, str]]]:
    """Hold the folder of every target open (made if missing), checked, for the renames.

    Each target must still hold what was read (`expected`: path → sha256, None for
    absent), be a regular file, and sit on the staging folder's file system.

    Raises:
        PathDenied: a target is not allowed, changed since it was read, is a link or a
            special file, or its folder cannot be written or renamed into atomically.
    """
    device = os.fstat(staging).st_dev
    with contextlib.ExitStack() as stack:
        held: dict[str, tuple[int, str]] = {}
        probed: set[int] = set()
        for path, before in expected.items():
            parent, name = stack.enter_context(workspace.folder(path, create=True))
            if current_hash(path, parent, name) != before:
                raise PathDenied(f"{path} changed while the patch was being applied; nothing was "
                                 "changed, so review it again.")
            info = os.fstat(parent)
            if info.st_dev != device:
                raise PathDenied(f"{path} is on another file system than the workspace's .sage/ "
                                 "folder, so SAGE cannot change it atomically; nothing was changed.")
            if info.st_ino not in probed:
                _probe(path, parent)
                probed.add(info.st_ino)
            held[path] = (parent, name)
        yield held


def current_hash(path: str, parent: int, name: str) -> str | None:
    """sha256 of the regular file `name` in `parent` (None when absent); links are refused."""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    check_kind(path, info, write=True)
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _probe(path: str, parent: int) -> None:
    """Fail now, before anything is promised, if the folder cannot take a new file."""
    name = f".sage-probe-{os.getpid()}"
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                         dir_fd=parent))
        os.unlink(name, dir_fd=parent)
    except OSError as exc:
        where = path.rsplit("/", 1)[0] if "/" in path else "the workspace folder"
        raise PathDenied(f"Cannot write in {where} ({(exc.strerror or str(exc)).lower()}); "
                         "nothing was changed.") from exc


def commit(journal_file: Path, journal: Journal, staging: int, targets: Targets,
           finish: Callable[[Journal], None]) -> None:
    """Write the journal, rename or delete every entry through the held folders, finish."""
    write_json_atomic(journal_file, journal.to_json())
    fsync_dir(journal_file.parent)
    for entry in journal.entries:  # from here on, replay() completes the change
        parent, name = targets[entry.path]
        _apply_entry(entry, staging, parent, name)
    for parent, _ in {fd: None for fd, _ in targets.values()}.items():
        os.fsync(parent)
    finish(journal)
    journal_file.unlink()


def replay(journal_file: Path, workspace: Workspace, sage: SageFolder,
           finish: Callable[[Journal], None]) -> tuple[Journal, list[str]] | None:
    """Finish an interrupted change from its journal.

    A file is changed only if it still holds what the journal found before; one already
    changed is skipped; one somebody edited since is kept as it is (and named).

    Returns:
        The journal and the paths kept as edited, or None when there was no journal.

    Raises:
        JournalInvalid: the journal is not one SAGE wrote (it is moved aside, not run).
        PathDenied: a target can no longer be reached safely (the journal stays).
    """
    try:
        journal = load(journal_file)
    except JournalInvalid:
        os.replace(journal_file, journal_file.with_suffix(".invalid"))
        raise
    if journal is None:
        return None
    kept: list[str] = []
    with sage.open("staging", journal.apply_id) as staging:
        for entry in journal.entries:
            with workspace.folder(entry.path, create=entry.staged is not None) as (parent, name):
                now = current_hash(entry.path, parent, name)
                if now == entry.after:
                    continue  # renamed before the interruption
                if now != entry.before:
                    kept.append(entry.path)  # edited since: the person's bytes win
                    continue
                _apply_entry(entry, staging, parent, name)
                os.fsync(parent)
    finish(journal)
    journal_file.unlink()
    return journal, kept


def _apply_entry(entry: Entry, staging: int, parent: int, name: str) -> None:
    if entry.staged is None:
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            check_kind(entry.path, info, write=True)
            os.unlink(name, dir_fd=parent)
        return
    try:
        os.rename(entry.staged, name, src_dir_fd=staging, dst_dir_fd=parent)
    except FileNotFoundError:
        return  # already renamed before an interruption
