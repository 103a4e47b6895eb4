"""Ranked lexical search over the workspace, with `file:line` citations.

Files come from `git ls-files --cached --others --exclude-standard` (so `.gitignore`
is respected) or, outside git, a walk that skips the usual build and tool folders.
Each file is split into identifier-aware terms per line; a query ranks files with
BM25 (path matches count too) and cites each file's best line. The index refreshes
incrementally: files whose size or mtime changed are re-read, and the health report
says how many were indexed, skipped (binary, too large, unreadable) and stale.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sage_tui.core.log.redaction import clip
from sage_tui.core.workspace.gitcmd import git_argv, git_env
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
    """The workspace's files, relative, `.gitignore` respected (git) or common junk skipped."""
    try:
        out = subprocess.run(
            git_argv("ls-files", "-z", "--cached", "--others", "--exclude-standard",
                     workspace=root), capture_output=True, timeout=30, env=git_env())
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is not None and out.returncode == 0:
        names = [n for n in out.stdout.decode("utf-8", "replace").split("\0") if n]
        return sorted(n for n in names if not n.startswith(".sage/"))[:MAX_FILES]
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in WALK_SKIP)
        rel = os.path.relpath(folder, root)
        found.extend(f if rel == "." else f"{rel}/{f}" for f in sorted(files))
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


@dataclass
class _File:
    mtime_ns: int
    size: int
    lines: list[str]
    term_lines: dict[str, list[int]]
    length: int
    path_terms: frozenset[str]  # a path's terms also count towards its score


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

    def describe(self) -> str:
        return f"index: {self.files} files, {self.skipped} skipped, {self.stale} refreshed"


class RetrievalIndex:
    """An in-memory index of one workspace; `search` refreshes it first."""

    def __init__(self, workspace: Workspace) -> None:
        self.root = workspace.root
        self._workspace = workspace  # its read rules keep hidden files out of the index
        self._files: dict[str, _File] = {}
        self._skipped: dict[str, tuple[int, int]] = {}

    def refresh(self) -> IndexHealth:
        """Bring the index up to date with the disk; report its health."""
        listed = [n for n in list_workspace_files(self.root) if not self._workspace.hidden(n)]
        seen = set(listed)
        gone = [name for name in self._files if name not in seen]
        stale = len(gone)
        for name in gone:
            del self._files[name]
        for name in [n for n in self._skipped if n not in seen]:
            del self._skipped[name]
        for name in listed:
            try:
                info = self._workspace.lstat(name)
            except OSError:
                info = None
            if info is None:  # listed by git but deleted from disk, or not reachable
                if self._files.pop(name, None) is not None:
                    stale += 1
                self._skipped.pop(name, None)
                continue
            key = (info.st_mtime_ns, info.st_size)
            entry = self._files.get(name)
            if entry is not None and (entry.mtime_ns, entry.size) == key:
                continue
            if self._skipped.get(name) == key:
                continue
            if entry is not None:
                stale += 1
            indexed = self._read(name, key)
            if indexed is None:
                self._files.pop(name, None)
                self._skipped[name] = key
            else:
                self._skipped.pop(name, None)
                self._files[name] = indexed
        return IndexHealth(len(self._files), len(self._skipped), stale)

    def _read(self, name: str, key: tuple[int, int]) -> _File | None:
        if key[1] > MAX_FILE_BYTES:
            return None
        try:  # through the workspace: a symlink that leads out is refused, not followed
            data = self._workspace.read_bytes(name, MAX_FILE_BYTES + 1)
        except OSError:
            return None
        if b"\0" in data[:8192]:
            return None
        lines = data.decode("utf-8", "replace").split("\n")
        term_lines: dict[str, list[int]] = {}
        length = 0
        for number, line in enumerate(lines, start=1):
            for term in set(terms(line)):
                term_lines.setdefault(term, []).append(number)
                length += 1
        return _File(key[0], key[1], lines, term_lines, length, frozenset(terms(name)))

    def search(self, query: str, limit: int = 5) -> tuple[list[Hit], IndexHealth]:
        """Rank files for `query` and cite each file's best line."""
        health = self.refresh()
        wanted = query_terms(query)
        if not wanted or not self._files:
            return [], health
        total = len(self._files)
        average = sum(f.length for f in self._files.values()) / total or 1.0
        df = Counter(t for f in self._files.values() for t in wanted if t in f.term_lines)
        idf = {t: math.log(1 + (total - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
        scored: list[tuple[float, str]] = []
        for name, entry in self._files.items():
            score = 0.0
            for term in wanted:
                tf = len(entry.term_lines.get(term, ()))
                if tf:
                    score += idf[term] * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * entry.length / average))
                if term in entry.path_terms:
                    score += idf[term]
            if score > 0:
                scored.append((score, name))
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits = []
        for score, name in scored[:limit]:
            entry = self._files[name]
            per_line: Counter[int] = Counter()
            for term in wanted:
                for number in entry.term_lines.get(term, ()):
                    per_line[number] += 1
            best = min(per_line, key=lambda n: (-per_line[n], n)) if per_line else 1
            text = entry.lines[best - 1].strip() if entry.lines else ""
            hits.append(Hit(name, best, clip(text, 160), round(score, 3)))
        return hits, health
