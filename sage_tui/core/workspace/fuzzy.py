"""Fuzzy file-name matching for `@path` completion, ranked as people expect from fzf.

A name whose file name starts with what was typed comes first, then one whose file name
contains it, then one whose path contains it, then one that has its letters in order
(`txst` finds `textstats.py`), tighter spreads first; shorter paths break ties.
"""

from __future__ import annotations

from collections.abc import Iterable


def _spread(needle: str, hay: str) -> int | None:
    """How far apart `needle`'s letters lie in `hay`, in order; None when they do not."""
    start = position = -1
    for char in needle:
        position = hay.find(char, position + 1)
        if position < 0:
            return None
        start = position if start < 0 else start
    return position - start


def rank(fragment: str, names: Iterable[str], limit: int = 20) -> list[str]:
    """The names that match `fragment`, best first (case-insensitive)."""
    wanted = fragment.lower()
    scored: list[tuple[float, int, str]] = []
    for name in names:
        path = name.lower()
        base = path.rsplit("/", 1)[-1]
        if not wanted:
            score = 4.0
        elif base.startswith(wanted):
            score = 0.0
        elif wanted in base:
            score = 1.0
        elif wanted in path:
            score = 2.0
        else:
            spread = _spread(wanted, path)
            if spread is None:
                continue
            score = 3.0 + spread / (spread + 10)
        scored.append((score, len(name), name))
    scored.sort()
    return [name for _, _, name in scored[:limit]]
