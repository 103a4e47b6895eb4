"""Checking a patch against the files on disk: which hunks do not fit, and where the
closest match is, so the model (or the person) can rebuild them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sage_tui.core.patch.model import Patch


@dataclass(frozen=True)
class HunkProblem:
    """Why a hunk does not fit the file on disk."""

    hunk_id: str
    path: str
    message: str


SCORED_LINES = 200  # the closest-match score compares at most this many lines of a hunk
SCORED_WINDOWS = 12  # and only the windows that share the most lines with it


def _find(lines: list[str], block: list[str], near: int) -> int | None:
    """Start index of `block` in `lines`, the occurrence nearest `near`.

    Only positions whose first line matches are compared, so a missing block costs
    one pass over the file, not one comparison per position.
    """
    if not block:
        return near
    first, size = block[0], len(block)
    hits = [i for i, line in enumerate(lines[:len(lines) - size + 1])
            if line == first and lines[i:i + size] == block]
    return min(hits, key=lambda i: abs(i - near)) if hits else None


def closest(lines: list[str], block: list[str]) -> tuple[int, float]:
    """(1-based line, similarity) of the window most like `block`, in bounded time.

    A sliding count of shared lines picks the few best windows in one pass; only
    those are scored with difflib, on at most `SCORED_LINES` lines.
    """
    import difflib  # only a hunk that does not apply needs it

    sample = block[:SCORED_LINES]
    size = max(1, len(sample))
    if not lines:
        return 1, 0.0
    wanted = set(sample)
    shared = [1 if line in wanted else 0 for line in lines]
    counts, running = [], sum(shared[:size])
    for start in range(max(1, len(lines) - size + 1)):
        if start:
            running += (shared[start + size - 1] if start + size - 1 < len(lines) else 0) \
                - shared[start - 1]
        counts.append(running)
    best_starts = sorted(range(len(counts)), key=lambda s: (-counts[s], s))[:SCORED_WINDOWS]
    best, score = 0, 0.0
    for start in sorted(best_starts):
        ratio = difflib.SequenceMatcher(a=sample, b=lines[start:start + size],
                                        autojunk=False).ratio()
        if ratio > score:
            best, score = start, ratio
    return best + 1, score


def percent(score: float) -> str:
    """A similarity for a hunk that did not match: never rounded up to 100%."""
    return f"{min(99, math.floor(score * 100))}%"


def diagnose(patch: Patch, read: Callable[[str], str | None],
             hunk_ids: Iterable[str] | None = None) -> list[HunkProblem]:
    """Check chosen hunks against current files; `read(path)` returns text or None."""
    chosen = None if hunk_ids is None else set(hunk_ids)
    problems: list[HunkProblem] = []
    for file in patch.files:
        hunks = [h for h in file.hunks if chosen is None or h.hunk_id in chosen]
        if not hunks:
            continue
        text = read(file.path)
        if file.is_new:
            if text is not None:
                problems += [HunkProblem(h.hunk_id, file.path, f"{file.path} already exists; "
                                         "change it with a diff against its contents") for h in hunks]
            continue
        if text is None:
            problems += [HunkProblem(h.hunk_id, file.path, f"{file.path} does not exist; to "
                                     "create it use '--- /dev/null'") for h in hunks]
            continue
        lines = text.split("\n")
        for hunk in hunks:
            block = hunk.old_lines
            if _find(lines, block, hunk.source_start - 1) is not None:
                continue
            line, score = closest(lines, block)
            sample = lines[line - 1].strip()[:60] if lines else ""
            problems.append(HunkProblem(
                hunk.hunk_id, file.path,
                f"hunk {hunk.index} ({hunk.header}) does not match {file.path}: its context and "
                f"removed lines are not in the file; the closest match ({percent(score)} alike) starts "
                f"at line {line}: {sample!r}"))
    return problems


def read_text_or_none(root: Path) -> Callable[[str], str | None]:
    """A `read` for `diagnose` over a folder (no confinement: callers resolve first)."""

    def read(path: str) -> str | None:
        target = root / path
        try:
            return target.read_text(encoding="utf-8", errors="surrogateescape")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    return read
