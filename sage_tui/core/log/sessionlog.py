"""The session log: one redacted JSON object per line, durable, rotated, crash-tolerant.

Format (DESIGN.md §2)::

    {"v":1,"seq":12,"ts":"2026-11-21T10:00:00.123Z","session_id":"…","trace_id":null,
     "turn":3,"event":"NAME","data":{…}}

* Each record is handed to the operating system in one `write` on an `O_APPEND`
  descriptor, so a process killed at any moment leaves at most a torn last line, and
  every `seq` that `emit` returned is on disk.
* `fsync` at commit points (`events.COMMIT_EVENTS`) and on `close`.
* A part that would grow past `SAGE_SESSION_LOG_MAX_MB` (counted in bytes) is renamed
  to `<id>.<n>.jsonl` (1 is the oldest) and a fresh `<id>.jsonl` is started; `seq`
  runs on across parts without a gap.
* One writer per session: a lock file refuses a second process with a clear message.
* Reopening a session continues its `seq`; a torn last line is repaired first (the
  fragment is kept in `<id>.torn` so nothing is silently thrown away).
* Readers split on `\\n` bytes only, skip and report a torn final line, and raise
  `SessionLogCorrupt` naming the file and line for damage anywhere else.

Records are made by the log's `Recorder` (`recorder.py`: numbering, stamping, redaction),
whose first subscriber is this writer; the workbench, printers and exporters subscribe
to the same recorder and get the very records written here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sage_tui.core.errors import SageError
from sage_tui.core.log.events import COMMIT_EVENTS, Event
from sage_tui.core.log.filelock import FileLock
from sage_tui.core.log.ids import (
    DEFAULT_MAX_MB,
    SESSION_ID_RE,
    check_session_id,
    check_trace_id,
    parse_max_mb,
)
from sage_tui.core.log.logfiles import (
    PART_NAME_RE,
    TornTail,
    encode_record,
    fsync_dir,
    parse_record,
    part_number,
    read_last_line,
    session_parts,
)
from sage_tui.core.log.recorder import FORMAT_VERSION, Record, Recorder, Subscriber

__all__ = ["FORMAT_VERSION", "SessionLog", "SessionLogBusy", "SessionLogCorrupt",
           "SessionLogError", "SessionNotFound", "TornTailWarning", "find_session_files",
           "new_session_id", "read_session"]


class SessionLogError(SageError):
    """The session log cannot be written or read as asked."""


class SessionLogBusy(SessionLogError):
    """Another process is already writing this session."""

    exit_code = 2


class SessionNotFound(SessionLogError):
    """No recorded session matches the reference given."""

    exit_code = 2


class SessionLogCorrupt(SessionLogError):
    """A line that is not the last one is not a valid record."""


class TornTailWarning(UserWarning):
    """A log ended in a torn line (a write cut short by a crash); it was skipped."""


def new_session_id() -> str:
    """A sortable, readable id: UTC start time plus six random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class SessionLog:
    """Append-only writer of one session's log. Thread-safe; one per process and session.

    Use `SessionLog.open(folder, ...)`, then `emit` events, then `close` (or a `with` block).
    """

    def __init__(self, directory: Path, session_id: str, trace_id: str | None,
                 max_bytes: int, lock: FileLock) -> None:
        self.directory = directory
        self.session_id = session_id
        self.trace_id = trace_id
        self.max_bytes = max_bytes
        self.path = directory / f"{session_id}.jsonl"
        self.recorder = Recorder(session_id, trace_id, writer=self._write_record)
        self.repaired: TornTail | None = None
        self.continued = False  # records were there already: this run continues the session
        self._lock = lock
        self._mutex = threading.Lock()
        self._parts = 0
        self._size = 0
        self._fd = -1

    @classmethod
    def open(cls, directory: Path, session_id: str | None = None,
             trace_id: str | None = None, max_mb: float | None = None) -> SessionLog:
        """Open (or continue) a session log.

        Args:
            directory: The folder of session logs (`<data>/sessions`); created if missing.
            session_id: An id to write to (or continue); else a new one.
            trace_id: Written on every line to correlate runs; else none.
            max_mb: Rotation size; else 20.

        Raises:
            ConfigError: an id or size is invalid.
            SessionLogBusy: another process is writing this session.
            SessionLogError: the folder cannot be written.
        """
        sid = check_session_id(session_id) if session_id else None
        tid = trace_id or None
        if tid is not None:
            check_trace_id(tid)
        size_mb = parse_max_mb(max_mb, "max_mb") if max_mb is not None else DEFAULT_MAX_MB
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SessionLogError(
                f"Cannot create the session log folder {directory} ({exc.strerror}); "
                "set SAGE_HOME to a writable folder."
            ) from exc
        sid = sid or new_session_id()
        session = sid

        def busy(owner: str) -> SessionLogBusy:
            return SessionLogBusy(
                f"Session {session!r} is already being written by another sage process "
                f"(pid {owner}); set a different SAGE_SESSION_ID or wait for it to finish.")

        lock = FileLock(directory / f"{sid}.lock", busy)
        lock.acquire()
        log = cls(directory, sid, tid, max(1, int(size_mb * 1024 * 1024)), lock)
        try:
            log._resume()
        except BaseException:
            lock.release()
            raise
        return log

    def _resume(self) -> None:
        parts = session_parts(self.directory, self.session_id)
        # The highest part number, not the count: with an old part deleted, a count would
        # make the next rotation overwrite the newest part.
        self._parts = max((part_number(p) for p in parts if p != self.path), default=0)
        if self.path.exists():
            self.repaired = self._repair_tail(self.path)
        for part in reversed(parts):
            raw, _ = read_last_line(part)
            if raw:
                record = parse_record(raw)
                if record is None:
                    raise SessionLogCorrupt(
                        f"The last record of {part} is damaged, so the session cannot be "
                        "continued; start a new session (unset SAGE_SESSION_ID)."
                    )
                self.continued = True
                self.recorder = Recorder(self.session_id, self.trace_id,
                                         next_seq=record["seq"] + 1,
                                         turn=int(record.get("turn") or 0),
                                         writer=self._write_record)
                break
        self._open_live()

    def _repair_tail(self, path: Path) -> TornTail | None:
        size = path.stat().st_size
        if size == 0:
            return None
        with path.open("r+b") as handle:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return None
            fragment, size = read_last_line(path)  # no newline at the end: the torn part
            keep = size - len(fragment)
            if parse_record(fragment) is not None:  # complete but for its newline
                handle.seek(size)
                handle.write(b"\n")
                return None
            torn_file = path.with_suffix(".torn")
            with torn_file.open("ab") as sidecar:
                sidecar.write(fragment + b"\n")
            handle.truncate(keep)
            handle.seek(0)
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            return TornTail(path, lines + 1, len(fragment))

    def _open_live(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o600)
        self._size = os.fstat(self._fd).st_size

    @property
    def turn(self) -> int:
        """The current turn (continued from the log when a session is reopened)."""
        return self.recorder.turn

    def emit(self, event: str, data: Mapping[str, Any], turn: int | None = None) -> int:
        """Record one event (redacted) and return its `seq` once it is with the operating
        system. A `turn` given here becomes the current turn for later records."""
        return int(self.recorder.emit(event, data, turn)["seq"])

    def sink(self, event: Event) -> None:
        """Use the log as an event sink (`events.Sink`)."""
        self.recorder.sink(event)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Give `subscriber` every record written from now on, as written."""
        self.recorder.subscribe(subscriber)

    def _write_record(self, record: Record) -> None:
        line = encode_record(record)
        with self._mutex:
            if self._fd < 0:
                raise SessionLogError(f"The session log {self.path} is closed.")
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            self._write(line)
            if record["event"] in COMMIT_EVENTS:
                os.fsync(self._fd)

    def _write(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # only short on a full disk or a signal
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            with contextlib.suppress(OSError):  # never leave half a record behind
                os.ftruncate(self._fd, self._size)
            raise SessionLogError(
                f"Could not write the session log {self.path} ({exc.strerror}); "
                "free some disk space or set SAGE_HOME to another folder."
            ) from exc
        self._size += len(line)

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        self._parts += 1
        target = self.directory / f"{self.session_id}.{self._parts}.jsonl"
        while target.exists():  # never overwrite a part (another copy, a restore)
            self._parts += 1
            target = self.directory / f"{self.session_id}.{self._parts}.jsonl"
        os.replace(self.path, target)
        fsync_dir(self.directory)
        self._open_live()

    @property
    def closed(self) -> bool:
        """True once `close` has run."""
        return self._fd < 0

    def close(self) -> None:
        """fsync, close and release the session; safe to call twice."""
        with self._mutex:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
            self._lock.release()

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class SessionReader:
    """Iterate the records of one session (all parts, in order). Single pass.

    After iteration `torn` tells whether a torn final line was skipped; a
    `TornTailWarning` is also issued when that happens.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.torn: TornTail | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        last = len(self.paths) - 1
        for index, path in enumerate(self.paths):
            try:
                handle: IO[bytes] = path.open("rb")
            except FileNotFoundError:
                continue  # rotated away between listing and opening: read it under its new name
            with handle:
                yield from self._records(path, handle, final=index == last)

    def _records(self, path: Path, handle: IO[bytes], final: bool) -> Iterator[dict[str, Any]]:
        lineno = 0
        for lineno, raw in enumerate(handle, start=1):  # binary files split on b"\n" only
            complete = raw.endswith(b"\n")
            if not raw.strip():
                continue
            record = parse_record(raw)
            if record is not None:
                yield record
                continue
            if not complete and final:
                self.torn = TornTail(path, lineno, len(raw))
                warnings.warn(TornTailWarning(self.torn.describe()), stacklevel=3)
                return
            raise SessionLogCorrupt(
                f"{path}, line {lineno}: not a session log record; the file is damaged "
                "there (records after it may still be read with `jq -R 'fromjson?'`)."
            )


def find_session_files(ref: str | os.PathLike[str],
                       directory: Path | None = None) -> list[Path]:
    """The files of a session given by id or by the path of any of its files."""
    candidate = Path(ref)
    if candidate.is_file():
        match = PART_NAME_RE.match(candidate.name)
        if match is None:
            return [candidate]
        return session_parts(candidate.parent, match["id"]) or [candidate]
    text = str(ref)
    if directory is not None and SESSION_ID_RE.fullmatch(text):
        parts = session_parts(directory, text)
        if parts:
            return parts
    raise SessionNotFound(
        f"No session or log file {text!r} was found; `sage trace` lists recorded sessions."
    )


def read_session(ref: str | os.PathLike[str],
                 directory: Path | None = None) -> SessionReader:
    """Read a session by id or file path: every part in order, torn tail skipped.

    Raises:
        SessionNotFound: nothing matches `ref`.
        SessionLogCorrupt: (while iterating) a damaged line that is not the last.
    """
    return SessionReader(find_session_files(ref, directory))
