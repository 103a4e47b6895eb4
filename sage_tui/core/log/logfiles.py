"""The session log's files: naming, record encoding and parsing, reading a file's tail.

Shared by the writer and the readers in `sessionlog` and `sessions`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage_tui.core.log.ids import SESSION_ID_RE

PART_NAME_RE = re.compile(rf"^(?P<id>{SESSION_ID_RE.pattern})(?:\.(?P<n>\d+))?\.jsonl$")


@dataclass(frozen=True)
class TornTail:
    """What a reader skipped, or an opener repaired, at the end of a log file."""

    path: Path
    line: int
    size: int

    def describe(self) -> str:
        """One sentence for the user."""
        return (f"{self.path.name} ends in a torn line {self.line} ({self.size} bytes, "
                "a write cut short by a crash); it was skipped")


def part_number(path: Path) -> int:
    """A rotated part's number (`<id>.3.jsonl` → 3); 0 for the live file or anything else."""
    match = PART_NAME_RE.match(path.name)
    return int(match["n"]) if match and match["n"] is not None else 0


def session_parts(directory: Path, session_id: str) -> list[Path]:
    """A session's files in reading order: rotated parts by number, then the live file."""
    numbered: list[tuple[int, Path]] = []
    for path in directory.glob(f"{session_id}.*.jsonl"):
        match = PART_NAME_RE.match(path.name)
        if match and match["id"] == session_id and match["n"] is not None:
            numbered.append((int(match["n"]), path))
    parts = [path for _, path in sorted(numbered)]
    live = directory / f"{session_id}.jsonl"
    if live.exists():
        parts.append(live)
    return parts


def encode_record(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escape it rather than lose the record
        return (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported (Windows): the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_last_line(path: Path) -> tuple[bytes, int]:
    """The last complete line of a file and the file's size; b"" when it has none."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        chunk = 65536
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            data = handle.read(size - start)
            body = data[:-1] if data.endswith(b"\n") else data
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                return body[cut + 1:], size
            chunk *= 4


def find_in_file(path: Path, needle: bytes, start: int = 0, chunk: int = 1 << 20
                 ) -> tuple[bool, int]:
    """Whether `needle` occurs in `path` from byte `start` on, read a chunk at a time (never
    the whole file), and where the search stopped (resume there once the file grew)."""
    keep = len(needle) - 1
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            carry, offset = b"", start
            while data := handle.read(chunk):
                if needle in carry + data:
                    return True, offset + len(data)
                carry = (carry + data)[-keep:] if keep else b""
                offset += len(data)
            return False, max(start, offset - keep)
    except FileNotFoundError:
        return False, start


def parse_record(raw: bytes) -> dict[str, Any] | None:
    """Decode one log line; None unless it is a JSON object with an integer `seq`."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
        return None
    return record
