"""Following live session logs as they are written, across rotations (`sage trace --follow`).

Memory stays bounded whatever the log's size: files are read in chunks of `CHUNK` bytes and
split into records as they come, never whole. A trace id is followed across every session
that carries it, including sessions that start after following began (another terminal
running with the same `SAGE_TRACE_ID`).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sage_tui.core.log.logfiles import PART_NAME_RE, find_in_file, parse_record, session_parts
from sage_tui.core.log.sessions import trace_needle

CHUNK = 1 << 20
MAX_LINE = 64 << 20  # a "line" longer than this is not a record: dropped, not held


def lines_of(handle: IO[bytes], pending: bytes = b"") -> Iterator[bytes]:
    """Complete lines from `handle`'s current position on, read `CHUNK` bytes at a time;
    a final piece without its newline is not yielded (see `Tail`, which keeps it)."""
    while chunk := handle.read(CHUNK):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
        if len(pending) > MAX_LINE:
            pending = b""


class Tail:
    """One session's records, as far as they are written; call `records()` again for more."""

    def __init__(self, parts: tuple[Path, ...]) -> None:
        live = parts[-1]
        match = PART_NAME_RE.match(live.name)
        self.session_id = match["id"] if match else live.stem
        self.live = live.with_name(f"{self.session_id}.jsonl")
        self.last_seq = 0
        self._pending = b""
        self._handle: IO[bytes] | None = None
        self._inode: int | None = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _fresh(self, raw_lines: Iterator[bytes] | list[bytes]) -> Iterator[dict[str, Any]]:
        for raw in raw_lines:
            record = parse_record(raw)
            if record is not None and record["seq"] > self.last_seq:
                self.last_seq = record["seq"]
                yield record

    def records(self) -> Iterator[dict[str, Any]]:
        """Everything written since the last call (all parts the first time)."""
        while True:
            if self._handle is None:
                try:  # between a rotation's rename and the new file there is no live file
                    self._handle = self.live.open("rb")
                except FileNotFoundError:
                    return  # the next poll finds the new one
                self._inode = os.fstat(self._handle.fileno()).st_ino
                for part in session_parts(self.live.parent, self.session_id):  # complete parts
                    with contextlib.suppress(FileNotFoundError):  # pruned since it was listed
                        if part != self.live and part.stat().st_ino != self._inode:
                            with part.open("rb") as handle:
                                yield from self._fresh(lines_of(handle))
            got = False
            while chunk := self._handle.read(CHUNK):
                got = True
                self._pending += chunk
                *lines, self._pending = self._pending.split(b"\n")
                yield from self._fresh(lines)
                if len(self._pending) > MAX_LINE:
                    self._pending = b""
            if got or not _rotated(self.live, self._inode):
                return
            # The writer closes a part before renaming it: drain it, then move to the new file.
            rest = self._pending + self._handle.read()
            yield from self._fresh(rest.split(b"\n"))
            self.close()
            self._pending = b""


def follow(parts: tuple[Path, ...], poll: float = 0.2,
           stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Yield a live session's records as they are written, across rotations.

    Starts with everything already recorded, then tails the live file. A rotation
    (the live file renamed to a numbered part) is followed to the new live file;
    `seq` is used to drop anything seen twice. Ends when `stop()` returns true.
    """
    tail = Tail(parts)
    try:
        yield from _polled(tail.records, poll, stop)
    finally:
        tail.close()


def follow_trace(trace_id: str, directory: Path, poll: float = 0.2,
                 stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Yield the records of `trace_id` from every session carrying it, as they are written,
    merged by time. Sessions that start carrying it later (another terminal with the same
    `SAGE_TRACE_ID`) are picked up at the next poll; files are searched incrementally."""
    needle = trace_needle(trace_id)
    tails: dict[str, Tail] = {}
    searched: dict[Path, int] = {}  # file → offset its search has reached

    def wanted(tail: Tail) -> Iterator[dict[str, Any]]:
        return (r for r in tail.records() if r.get("trace_id") == trace_id)

    def batch() -> Iterator[dict[str, Any]]:
        for path in sorted(directory.glob("*.jsonl")):
            match = PART_NAME_RE.match(path.name)
            if match is None or match["id"] in tails:
                continue
            found, searched[path] = find_in_file(path, needle, searched.get(path, 0))
            if found:
                tails[match["id"]] = Tail(tuple(session_parts(directory, match["id"])))
        # each session's records are in time order: merge them lazily
        return heapq.merge(*map(wanted, tails.values()),
                           key=lambda r: (str(r.get("ts", "")), r.get("seq", 0)))

    try:
        yield from _polled(batch, poll, stop)
    finally:
        for tail in tails.values():
            tail.close()


def _polled(batch: Callable[[], Iterator[dict[str, Any]]], poll: float,
            stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """Each poll's records from `batch()`; after a poll that brought none, end if `stop()`
    says so, else wait `poll` seconds (so everything written before a stop is drained)."""
    while True:
        got = False
        for record in batch():
            got = True
            yield record
        if not got:
            if stop():
                return
            time.sleep(poll)


def _rotated(live: Path, inode: int | None) -> bool:
    try:
        return os.stat(live).st_ino != inode
    except FileNotFoundError:
        return True
