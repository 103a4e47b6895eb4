"""Following a live session's log as it is written, across rotations (`sage trace --follow`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sage_tui.core.log.logfiles import PART_NAME_RE, parse_record, session_parts


def follow(parts: tuple[Path, ...], poll: float = 0.2,
           stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Yield a live session's records as they are written, across rotations.

    Starts with everything already recorded, then tails the live file. A rotation
    (the live file renamed to a numbered part) is followed to the new live file;
    `seq` is used to drop anything seen twice. Ends when `stop()` returns true.
    """
    live = parts[-1]
    match = PART_NAME_RE.match(live.name)
    session_id = match["id"] if match else live.stem
    live = live.with_name(f"{session_id}.jsonl")
    last_seq = 0
    pending = b""
    handle = None
    inode = None

    def fresh(raw_lines: list[bytes]) -> Iterator[dict[str, Any]]:
        nonlocal last_seq
        for raw in raw_lines:
            record = parse_record(raw)
            if record is not None and record["seq"] > last_seq:
                last_seq = record["seq"]
                yield record

    try:
        while True:
            if handle is None and live.exists():
                handle = live.open("rb")
                inode = os.fstat(handle.fileno()).st_ino
                for part in session_parts(live.parent, session_id):  # the complete parts
                    if part != live and part.stat().st_ino != inode:
                        yield from fresh(part.read_bytes().split(b"\n"))
            chunk = handle.read() if handle is not None else b""
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from fresh(lines)
                continue
            if handle is not None and _rotated(live, inode):
                # The writer closes a part before renaming it: drain it, then move on.
                rest = pending + handle.read()
                yield from fresh(rest.split(b"\n"))
                handle.close()
                handle, pending = None, b""
                continue
            if stop():
                return
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def _rotated(live: Path, inode: int | None) -> bool:
    try:
        return os.stat(live).st_ino != inode
    except FileNotFoundError:
        return True
