"""Session log: format, ids, rotation, torn tails, corruption, locking, durability."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from sage_tui.config import load_settings
from sage_tui.core.errors import ConfigError
from sage_tui.core.log.events import Event, EventName
from sage_tui.core.log.sessionlog import (
    SessionLog,
    SessionLogBusy,
    SessionLogCorrupt,
    SessionNotFound,
    TornTailWarning,
    read_session,
)
from tests.helpers import sessions_dir

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def folder(home: Path) -> Path:
    return home / "data" / "sessions"


def test_record_format_and_emit_returns_seq(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="fmt", trace_id="trace-1") as log:
        assert log.path == folder(sage_home) / "fmt.jsonl"
        assert log.emit("USER_MESSAGE", {"text": "hi", "role": "user"}, turn=1) == 1
        assert log.emit(EventName.ROUTE_DECISION, {"route": "qa"}) == 2
    lines = log.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    first = json.loads(lines[0])
    assert list(first) == ["v", "seq", "ts", "session_id", "trace_id", "turn", "event", "data"]
    assert first["v"] == 1 and first["seq"] == 1 and TS.match(first["ts"])
    assert (first["session_id"], first["trace_id"], first["turn"]) == ("fmt", "trace-1", 1)
    second = json.loads(lines[1])
    assert second["event"] == "ROUTE_DECISION" and second["turn"] == 1  # turn carries over


def test_ids_and_size_come_from_the_environment(sage_home: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_SESSION_ID", "from-env")
    monkeypatch.setenv("SAGE_TRACE_ID", "0af7651916cd43dd8448eb211c80319c")
    monkeypatch.setenv("SAGE_SESSION_LOG_MAX_MB", "0.5")
    settings = load_settings()
    with SessionLog.open(sessions_dir(), settings.session_id, settings.trace_id,
                         settings.session_log_max_mb) as log:
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "m"})
    assert log.session_id == "from-env" and log.max_bytes == 512 * 1024
    record = next(iter(read_session("from-env", sessions_dir())))
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_generated_session_ids_are_unique_and_no_trace_id_is_null(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir()) as a, SessionLog.open(sessions_dir()) as b:
        assert a.session_id != b.session_id
        a.emit("ERROR", {"where": "t", "kind": "k", "message": "m"})
    assert json.loads(a.path.read_text())["trace_id"] is None


@pytest.mark.parametrize("variable,value", [
    ("SAGE_SESSION_ID", "../escape"), ("SAGE_SESSION_ID", "has.dot"),
    ("SAGE_TRACE_ID", "bad id"), ("SAGE_SESSION_LOG_MAX_MB", "-1"),
    ("SAGE_SESSION_LOG_MAX_MB", "lots"),
])
def test_bad_settings_are_config_errors_naming_the_variable(
        sage_home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        settings = load_settings()
        SessionLog.open(sessions_dir(), settings.session_id, settings.trace_id,
                        settings.session_log_max_mb)
    directory = folder(sage_home)
    assert not directory.exists() or not list(directory.glob("*.jsonl"))


def test_log_files_are_private(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="perm") as log:
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "m"})
    assert log.path.stat().st_mode & 0o077 == 0


def test_rotation_by_bytes_keeps_seq_gap_free(sage_home: Path) -> None:
    max_mb = 4096 / (1024 * 1024)  # 4 KiB parts
    text = "é" * 300  # 300 characters, 600 bytes: rotation must count bytes
    with SessionLog.open(sessions_dir(), session_id="rot", max_mb=max_mb) as log:
        for i in range(60):
            log.emit("ASSISTANT_MESSAGE", {"text": text, "role": "coder", "i": i})
    directory = folder(sage_home)
    parts = sorted(directory.glob("rot.*.jsonl"), key=lambda p: int(p.name.split(".")[1]))
    assert len(parts) >= 8
    for part in [*parts, directory / "rot.jsonl"]:
        assert 0 < part.stat().st_size <= 4096
    records = list(read_session("rot", sessions_dir()))
    assert [r["seq"] for r in records] == list(range(1, 61))
    assert [r["data"]["i"] for r in records] == list(range(60))
    # The first part holds the oldest records.
    assert json.loads(parts[0].read_bytes().split(b"\n")[0])["seq"] == 1


def test_a_record_larger_than_a_part_is_written_whole(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="big", max_mb=0.001) as log:
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "small"})
        log.emit("TOOL_RESULT", {"summary": "x" * 5000})
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "after"})
    assert [r["seq"] for r in read_session("big", sessions_dir())] == [1, 2, 3]


def test_reopening_continues_seq_and_turn(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="again") as log:
        log.emit("USER_MESSAGE", {"text": "a", "role": "user"}, turn=4)
    with SessionLog.open(sessions_dir(), session_id="again") as log:
        assert log.turn == 4
        assert log.emit("USER_MESSAGE", {"text": "b", "role": "user"}) == 2


def test_reopening_after_rotation_continues_from_the_last_part(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="gone", max_mb=0.001) as log:
        for _ in range(10):
            log.emit("TOOL_RESULT", {"summary": "y" * 300})
    # A crash between renaming the live file and creating the next one leaves no live file.
    log.path.unlink()
    remaining = [r["seq"] for r in read_session("gone", sessions_dir())]
    with SessionLog.open(sessions_dir(), session_id="gone", max_mb=0.001) as log:
        assert log.emit("ERROR", {"where": "t", "kind": "k", "message": "m"}) == remaining[-1] + 1


def test_deleting_the_oldest_part_never_makes_a_rotation_overwrite_a_part(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="pruned", max_mb=0.001) as log:
        for _ in range(12):
            log.emit("TOOL_RESULT", {"summary": "y" * 300})
    parts = sorted(sessions_dir().glob("pruned.*.jsonl"))
    assert len(parts) >= 3
    parts[0].unlink()  # a person tidies the oldest part away
    kept = [r["seq"] for r in read_session("pruned", sessions_dir())]
    acknowledged = []
    with SessionLog.open(sessions_dir(), session_id="pruned", max_mb=0.001) as log:
        for _ in range(12):
            acknowledged.append(log.emit("TOOL_RESULT", {"summary": "z" * 300}))
    seqs = [r["seq"] for r in read_session("pruned", sessions_dir())]
    assert seqs == kept + acknowledged  # nothing written before or after was lost


def test_torn_final_line_is_skipped_and_reported(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="torn") as log:
        for i in range(3):
            log.emit("ERROR", {"where": "t", "kind": "k", "message": str(i)})
    with log.path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":4,"ts":"2026-11-21T10:00:00.000Z","sess')
    reader = read_session("torn", sessions_dir())
    with pytest.warns(TornTailWarning, match="torn line 4"):
        seqs = [r["seq"] for r in reader]
    assert seqs == [1, 2, 3]
    assert reader.torn is not None and reader.torn.line == 4


def test_opening_repairs_a_torn_tail_and_keeps_the_fragment(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="fix") as log:
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "kept"})
    fragment = b'{"v":1,"seq":2,"ts":"2026-11-21T10:00'
    with log.path.open("ab") as handle:
        handle.write(fragment)
    with SessionLog.open(sessions_dir(), session_id="fix") as log:
        assert log.repaired is not None and log.repaired.line == 2
        assert log.emit("ERROR", {"where": "t", "kind": "k", "message": "next"}) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing torn any more
        assert [r["data"]["message"] for r in read_session("fix", sessions_dir())] == ["kept", "next"]
    assert (folder(sage_home) / "fix.torn").read_bytes() == fragment + b"\n"


def test_a_complete_last_record_without_newline_is_kept(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="nonl") as log:
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "a"})
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "b"})
    log.path.write_bytes(log.path.read_bytes().rstrip(b"\n"))
    assert [r["seq"] for r in read_session("nonl", sessions_dir())] == [1, 2]
    with SessionLog.open(sessions_dir(), session_id="nonl") as log:
        assert log.repaired is None
        assert log.emit("ERROR", {"where": "t", "kind": "k", "message": "c"}) == 3
    assert [r["seq"] for r in read_session("nonl", sessions_dir())] == [1, 2, 3]


def test_corruption_in_the_middle_names_file_and_line(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="bad") as log:
        for i in range(4):
            log.emit("ERROR", {"where": "t", "kind": "k", "message": str(i)})
    lines = log.path.read_bytes().split(b"\n")
    lines[1] = b'{"v":1, this is not json'
    log.path.write_bytes(b"\n".join(lines))
    with pytest.raises(SessionLogCorrupt, match=r"bad\.jsonl, line 2"):
        list(read_session("bad", sessions_dir()))


def test_records_split_on_newline_bytes_only(sage_home: Path) -> None:
    tricky = "line\u2028separator\u2029para\x1cfs\x85nel\r\nend"
    with SessionLog.open(sessions_dir(), session_id="seps") as log:
        log.emit("ASSISTANT_MESSAGE", {"text": tricky, "role": "coder"})
        log.emit("ASSISTANT_MESSAGE", {"text": "second", "role": "coder"})
    records = list(read_session("seps", sessions_dir()))
    assert [r["data"]["text"] for r in records] == [tricky, "second"]


def test_read_by_path_of_any_part(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="bypath", max_mb=0.001) as log:
        for _ in range(8):
            log.emit("TOOL_RESULT", {"summary": "z" * 300})
    part = folder(sage_home) / "bypath.2.jsonl"
    assert [r["seq"] for r in read_session(part, sessions_dir())] == list(range(1, 9))
    assert [r["seq"] for r in read_session(str(log.path))] == list(range(1, 9))


def test_unknown_session_is_a_clear_error(sage_home: Path) -> None:
    with pytest.raises(SessionNotFound, match="sage trace"):
        read_session("nothing-here", sessions_dir())


def test_second_writer_in_this_process_is_refused(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="busy"), pytest.raises(SessionLogBusy, match="already"):
        SessionLog.open(sessions_dir(), session_id="busy")
    with SessionLog.open(sessions_dir(), session_id="busy") as log:  # free again after close
        log.emit("ERROR", {"where": "t", "kind": "k", "message": "m"})


def test_second_writer_process_is_refused_with_its_pid(sage_home: Path) -> None:
    code = (
        "import sys\n"
        "from sage_tui.core.log.sessionlog import SessionLog, SessionLogBusy\n"
        "from sage_tui.paths import sage_paths\n"
        "try:\n    SessionLog.open(sage_paths().sessions, session_id='shared')\n"
        "except SessionLogBusy as e:\n    print(e); sys.exit(3)\n"
    )
    with SessionLog.open(sessions_dir(), session_id="shared"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "SAGE_HOME": str(sage_home)})
    assert out.returncode == 3
    assert f"pid {os.getpid()}" in out.stdout and "SAGE_SESSION_ID" in out.stdout


def test_concurrent_threads_get_unique_gap_free_seqs(sage_home: Path) -> None:
    returned: list[int] = []
    lock = threading.Lock()
    with SessionLog.open(sessions_dir(), session_id="threads", max_mb=0.05) as log:
        def work() -> None:
            for _ in range(500):
                seq = log.emit("TOOL_RESULT", {"summary": "t"})
                with lock:
                    returned.append(seq)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(returned) == list(range(1, 2001))
    assert [r["seq"] for r in read_session("threads", sessions_dir())] == list(range(1, 2001))


def test_commit_events_fsync(sage_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with SessionLog.open(sessions_dir(), session_id="sync") as log:
        log.emit("TOOL_RESULT", {"summary": "not a commit point"})
        assert synced == []
        log.emit("CHECKPOINT_RESOLVED", {"checkpoint": "plan", "decision": "approve"})
        assert len(synced) == 1
        log.emit("PATCH_APPLIED", {"patch_id": "p1", "files": [], "hunks": []})
        assert len(synced) == 2
    assert len(synced) == 3  # close


def test_sink_adapter_and_closed_log(sage_home: Path) -> None:
    log = SessionLog.open(sessions_dir(), session_id="sink")
    log.sink(Event(EventName.USER_MESSAGE, {"text": "x", "role": "user"}, turn=2))
    log.close()
    log.close()  # twice is fine
    assert log.closed
    with pytest.raises(Exception, match="closed"):
        log.emit("ERROR", {})
    record = next(iter(read_session("sink", sessions_dir())))
    assert (record["event"], record["turn"]) == ("USER_MESSAGE", 2)


def test_unicode_and_lone_surrogates_survive(sage_home: Path) -> None:
    with SessionLog.open(sessions_dir(), session_id="uni") as log:
        log.emit("ASSISTANT_MESSAGE", {"text": "naïve 日本 🚀", "role": "coder"})
        log.emit("ASSISTANT_MESSAGE", {"text": "bad \udc80 byte", "role": "coder"})
    texts = [r["data"]["text"] for r in read_session("uni", sessions_dir())]
    assert texts == ["naïve 日本 🚀", "bad \udc80 byte"]
    assert "naïve 日本".encode() in log.path.read_bytes()  # UTF-8, readable with grep
