"""Ranked lexical search over the workspace, with `file:line` citations.

Files come from `git ls-files` (so `.gitignore` is respected) or, outside git, a walk
that skips the usual build and tool folders. Each file is split into identifier-aware
terms and kept in a SQLite FTS5 index in SAGE's state folder (`indexstore.py`), which a
query ranks with BM25 (path terms count too); the best line of each file found is
cited. The index outlives the process and refreshes incrementally: a tracked file
whose git blob id is unchanged is never re-read (a checkout that only touched mtimes
costs nothing), other files are re-read when their size, mtime or ctime changed. The health
report says how many files are indexed, skipped (binary, too large, unreadable) and
refreshed; a long build reports its progress.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sage_tui.core.log.redaction import clip
from sage_tui.core.log.safetext import code_line
from sage_tui.core.workspace.gitcmd import git_argv, git_env
from sage_tui.core.workspace.indexstore import IndexStore, damaged
from sage_tui.core.workspace.workspace import Workspace

MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 20_000
WALK_SKIP = frozenset({".git", ".sage", "node_modules", ".venv", "venv", "__pycache__", "dist",
                       "build", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".idea"})
STOPWORDS = frozenset(
    "a an and are as at be by can could do does for from how i in is it its me my of on or "
    "please should so that the this to use used uses was we what when where which who why "
    "will with would you your there here into about have has had not no yes if then than them "
    "they these those our us"
    .split()
)
_TERM = re.compile(r"[A-Za-z0-9_]+")
_SUBWORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
MAX_QUERY_TERMS = 32
PROGRESS_FROM = 100  # a refresh reading at least this many files reports its progress
_CHECKPOINT_EVERY = 500  # files: a long build interrupted keeps what it had done
_SPLITS: dict[str, tuple[str, ...]] = {}  # identifier → its terms (identifiers repeat)
_SPLIT_KEPT_CHARS = 64

Progress = Callable[[int, int], None]  # (files read, files to read)
_T = TypeVar("_T")


def terms(text: str) -> list[str]:
    """Lower-cased terms: whole identifiers plus their snake/camel-case parts."""
    out: list[str] = []
    for word in _TERM.findall(text):
        low = word.lower()
        out.append(low)
        parts = [p.lower() for p in _SUBWORD.findall(word)]
        if len(parts) > 1:
            out.extend(p for p in parts if p != low)
    return out


def query_terms(text: str) -> list[str]:
    return list(dict.fromkeys(t for t in terms(text) if len(t) > 1 and t not in STOPWORDS))


def list_workspace_files(root: Path) -> list[str]:
    """The workspace's files, relative, `.gitignore` respected (git) or common junk skipped.
    Names only: what the tools and `@path` completion need, without the index's checks."""
    listed = _ls_files(root, "--cached", "--others", "--exclude-standard")
    if listed is None:
        return _walk(root)
    names = {n for n in listed.split("\0") if n and not n.startswith(".sage/")}
    return sorted(names)[:MAX_FILES]


def _listing(root: Path) -> dict[str, str | None]:
    """The workspace's files (sorted, at most MAX_FILES), each with git's blob id when git
    knows the file on disk matches it (tracked, regular, not modified), else None."""
    listed = _ls_files(root, "-t", "-s", "--cached", "--modified", "--others",
                       "--exclude-standard")
    return dict.fromkeys(_walk(root)) if listed is None else _parse_listing(listed)


def _ls_files(root: Path, *flags: str) -> str | None:
    """`git ls-files -z FLAGS` in `root`, or None outside git (or when git fails)."""
    try:
        out = subprocess.run(git_argv("ls-files", "-z", *flags, workspace=root),
                             capture_output=True, timeout=30, env=git_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def _walk(root: Path) -> list[str]:
    """Outside git: the folder's files, skipping the usual build and tool folders."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in WALK_SKIP)
        rel = os.path.relpath(folder, root)
        names = (f if rel == "." else f"{rel}/{f}" for f in sorted(files))
        found.extend(n for n in names if _utf8(n))
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


def _parse_listing(text: str) -> dict[str, str | None]:
    """`git ls-files -t -s` records: `? path` (untracked), `H mode blob stage\tpath`
    (cached), `C ...` (modified or deleted), `M ...` (unmerged), `S ...` (skip-worktree)."""
    blobs: dict[str, str | None] = {}
    changed: set[str] = set()
    for record in text.split("\0"):
        tag, _, rest = record.partition(" ")
        if tag == "?":
            blobs.setdefault(rest, None)
            continue
        info, tab, path = rest.partition("\t")
        fields = info.split()
        if not tab or len(fields) != 3:
            continue
        mode, blob, stage = fields
        if tag == "H" and stage == "0" and mode in ("100644", "100755"):
            blobs.setdefault(path, blob)
        else:
            blobs.setdefault(path, None)
            changed.add(path)
    names = sorted(n for n in blobs if n and not n.startswith(".sage/"))[:MAX_FILES]
    return {n: None if n in changed else blobs[n] for n in names}


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    text: str
    score: float

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class IndexHealth:
    files: int
    skipped: int
    stale: int
    read: int = 0  # files read from disk by this refresh
    note: str = ""  # one sentence when the index is not what it should be

    def describe(self) -> str:
        text = f"index: {self.files} files, {self.skipped} skipped, {self.stale} refreshed"
        return f"{text}; {self.note}" if self.note else text


class RetrievalIndex:
    """One workspace's index, kept in `path` (SAGE's state folder) or, without one, in
    memory for this process; `search` refreshes it first. Thread-safe, one call at a time."""

    def __init__(self, workspace: Workspace, path: Path | None = None) -> None:
        self.root = workspace.root
        self._workspace = workspace  # its read rules keep hidden files out of the index
        self._path = path
        self._store: IndexStore | None = None  # opened on first use, in the worker thread
        self._lock = threading.Lock()

    def _opened(self) -> IndexStore:
        if self._store is None:
            self._store = IndexStore(self._path)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def refresh(self, progress: Progress | None = None, stop: threading.Event | None = None
                ) -> IndexHealth:
        """Bring the index up to date with the disk (until `stop` is set); report its health."""
        with self._lock:
            return self._guarded(lambda: self._refresh(progress, stop))

    def _guarded(self, work: Callable[[], _T]) -> _T:
        """`work` on the index; when SQLite finds the file damaged while using it, the index
        (a cache) is rebuilt and the work done again. Any other failure of the file (a full
        disk, an error no rebuild explains) moves the index into memory, with a note: a
        cache never fails a turn."""
        while True:
            try:
                return work()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
                store = self._opened()
                if store.path is None:
                    raise
                if damaged(exc):
                    store.rebuild()
                else:
                    store.to_memory(f"the index in {store.path} failed ({exc})")

    def _refresh(self, progress: Progress | None, stop: threading.Event | None) -> IndexHealth:
        listed = {n: b for n, b in _listing(self.root).items() if not self._workspace.hidden(n)}
        store = self._opened()
        try:
            with store.writing():
                stale, read = self._update(store, listed, progress, stop)
        except sqlite3.OperationalError as exc:  # held by another process for too long
            busy = getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
            note = ("another SAGE process is still refreshing the index, so this search used it "
                    "as it stood" if busy else f"the index was not refreshed ({exc})")
            return self._counts(store, 0, 0, note)
        return self._counts(store, stale, read, store.note)

    @staticmethod
    def _counts(store: IndexStore, stale: int, read: int, note: str) -> IndexHealth:
        counts = dict(store.db.execute("SELECT indexed, count(*) FROM files GROUP BY indexed"))
        return IndexHealth(counts.get(1, 0), counts.get(0, 0), stale, read, note)

    def _update(self, store: IndexStore, listed: dict[str, str | None],
                progress: Progress | None, stop: threading.Event | None) -> tuple[int, int]:
        known = store.keys()
        stale = 0
        for name in [n for n in known if n not in listed]:
            store.remove(name)
            stale += known[name][1]
        todo: list[tuple[str, str, bool]] = []  # (name, key, known before)
        for name, blob in listed.items():
            before = known.get(name)
            if blob is not None:
                key = f"blob:{blob}"
            else:
                try:
                    info = self._workspace.lstat(name)
                except OSError:
                    info = None
                if info is None:  # listed by git but deleted from disk, or not reachable
                    if before is not None:
                        store.remove(name)
                        stale += before[1]
                    continue
                # ctime too: `cp -p`, `rsync -t` and `tar` set an edited file's mtime back
                key = f"stat:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_size}"
            if before is None or before[0] != key:
                todo.append((name, key, before is not None and before[1]))
        report = progress if progress is not None and len(todo) >= PROGRESS_FROM else None
        step = max(1, len(todo) // 20)
        for done, (name, key, was_indexed) in enumerate(todo):
            if stop is not None and stop.is_set():  # the turn was cancelled: keep what is done
                return stale, done
            if report is not None and done % step == 0:
                report(done, len(todo))
            if done and done % _CHECKPOINT_EVERY == 0:
                store.checkpoint()
            store.put(name, key, self._body(name), " ".join(terms(name)))
            stale += was_indexed
        if report is not None:
            report(len(todo), len(todo))
        return stale, len(todo)

    def _body(self, name: str) -> str | None:
        """The file's terms, one group per line, or None when it is not indexed."""
        data = self._text(name)
        if data is None:
            return None
        parts: list[str] = []
        for line in data.split("\n"):
            words = _TERM.findall(line)
            if len(words) == 1:
                parts.extend(_split(words[0]))
            elif words:  # a term counts once per line (its frequency is lines holding it)
                parts.extend(set().union(*map(_split, words)))
        return " ".join(parts)

    def _text(self, name: str) -> str | None:
        try:  # through the workspace: a symlink that leads out is refused, not followed
            data = self._workspace.read_bytes(name, MAX_FILE_BYTES + 1)
        except OSError:
            return None
        if len(data) > MAX_FILE_BYTES or b"\0" in data[:8192]:
            return None
        return data.decode("utf-8", "replace")

    def search(self, query: str, limit: int = 5, progress: Progress | None = None,
               stop: threading.Event | None = None) -> tuple[list[Hit], IndexHealth]:
        """Rank files for `query` and cite each file's best line. Setting `stop` (the turn
        was cancelled) ends a refresh at its next file, keeping what it had read."""
        wanted = query_terms(query)[:MAX_QUERY_TERMS]

        def ranked() -> tuple[IndexHealth, list[tuple[str, float]]]:
            health = self._refresh(progress, stop)
            if not wanted or not health.files or (stop is not None and stop.is_set()):
                return health, []
            return health, self._opened().rank(wanted, limit * 2)

        with self._lock:
            health, ranked_files = self._guarded(ranked)
        hits: list[Hit] = []
        for name, score in ranked_files:
            cited = self._cite(name, set(wanted))
            if cited is not None:
                hits.append(Hit(name, cited[0], clip(code_line(cited[1]), 160), round(score, 3)))
            if len(hits) == limit:
                break
        return hits, health

    def _cite(self, name: str, wanted: set[str]) -> tuple[int, str] | None:
        """The line of `name` with the most query terms (the first of equals), read now."""
        text = self._text(name)
        if text is None:
            return None  # changed under us since the refresh: leave it out
        lines = text.split("\n")
        best, most = 1, 0
        for number, line in enumerate(lines, start=1):
            low = line.lower()
            if not any(term in low for term in wanted):
                continue  # a term's every form is lower-case text of the line
            found = len(wanted.intersection(terms(line)))
            if found > most:
                best, most = number, found
        if not most and not wanted.intersection(terms(name)):
            return None  # changed since it was indexed: no line of it is evidence
        return best, lines[best - 1]


def _utf8(name: str) -> bool:
    """Whether `name` is text (a name that is not UTF-8 is left out, as git's listing does:
    it could not be stored, shown or asked for)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _split(word: str) -> tuple[str, ...]:
    """`word`'s terms, remembered (identifiers repeat, across files too; a word longer than
    a real identifier rarely does, and kept it would hold its file's size in parts)."""
    if len(word) > _SPLIT_KEPT_CHARS:
        return tuple(dict.fromkeys(terms(word)))
    split = _SPLITS.get(word)
    if split is None:
        if len(_SPLITS) > 200_000:
            _SPLITS.clear()
        split = _SPLITS[word] = tuple(dict.fromkeys(terms(word)))
    return split
