"""Finding sessions: listing, references, trace ids across sessions, following a live log."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sage_tui.core.errors import UsageError
from sage_tui.core.log.follow import follow
from sage_tui.core.log.sessionlog import SessionLog, SessionNotFound
from sage_tui.core.log.sessions import list_sessions, resolve
from tests.helpers import sessions_dir


def record_session(session_id: str, trace_id: str | None = None, turns: int = 2,
                   ended: bool = True, estimate: bool = False) -> SessionLog:
    log = SessionLog.open(sessions_dir(), session_id=session_id, trace_id=trace_id)
    log.emit("SESSION_STARTED", {"workspace": f"/work/{session_id}", "mode": "auto",
                                 "profile": None, "version": "0.1.0"})
    total = 0
    for turn in range(1, turns + 1):
        log.emit("USER_MESSAGE", {"text": f"q{turn}", "role": "user"}, turn=turn)
        total += 100
        log.emit("TOKEN_USAGE", {"role": "router", "model": "m", "prompt_tokens": 100,
                                 "completion_tokens": 10,
                                 "source": "estimate" if estimate else "ollama",
                                 "session": {"prompt_tokens": total,
                                             "completion_tokens": total // 10}})
    if ended:
        log.emit("SESSION_ENDED", {"status": "ok", "turns": turns,
                                   "tokens": {"prompt_tokens": total,
                                              "completion_tokens": total // 10}})
    log.close()
    return log


def test_list_sessions_newest_first_with_summaries(sage_home: Path) -> None:
    record_session("older", turns=1)
    time.sleep(0.02)
    record_session("newer", turns=3, ended=False, estimate=True)
    sessions = list_sessions(sessions_dir())
    assert [s.session_id for s in sessions] == ["newer", "older"]
    newer, older = sessions
    assert (newer.turns, newer.prompt_tokens, newer.completion_tokens) == (3, 300, 30)
    assert newer.status == "open" and newer.estimated
    assert (older.status, older.workspace, older.mode, older.turns) == ("ok", "/work/older",
                                                                       "auto", 1)
    assert older.started is not None and older.started.endswith("Z")
    assert len(list_sessions(sessions_dir(), limit=1)) == 1


def test_list_sessions_is_empty_without_a_folder(sage_home: Path) -> None:
    assert list_sessions(sessions_dir()) == []


def test_resolve_by_id_prefix_and_path(sage_home: Path) -> None:
    log = record_session("20261121-101010-aaaaaa")
    record_session("20261121-101010-bbbbbb")
    assert resolve("20261121-101010-aaaaaa", sessions_dir()).name == "20261121-101010-aaaaaa"
    assert resolve("20261121-101010-b", sessions_dir()).name == "20261121-101010-bbbbbb"
    assert resolve(str(log.path), sessions_dir()).kind == "session"
    with pytest.raises(UsageError, match="matches 2 sessions"):
        resolve("20261121-101010", sessions_dir())
    with pytest.raises(SessionNotFound, match="sage trace"):
        resolve("zzz", sessions_dir())


def test_trace_id_merges_sessions_by_time(sage_home: Path) -> None:
    a = SessionLog.open(sessions_dir(), session_id="term-a", trace_id="shared-trace")
    b = SessionLog.open(sessions_dir(), session_id="term-b", trace_id="shared-trace")
    c = SessionLog.open(sessions_dir(), session_id="term-c", trace_id="other-trace")
    order = []
    for i in range(6):
        log = a if i % 2 == 0 else b
        log.emit("ERROR", {"where": log.session_id, "kind": "k", "message": str(i)})
        c.emit("ERROR", {"where": "c", "kind": "k", "message": str(i)})
        order.append((log.session_id, str(i)))
        time.sleep(0.002)  # distinct millisecond timestamps
    for log in (a, b, c):
        log.close()
    target = resolve("shared-trace", sessions_dir())
    assert target.kind == "trace" and len(target.sessions) == 2
    merged = [(r["session_id"], r["data"]["message"]) for r in target.reader()]
    assert merged == order


def test_follow_sees_records_across_rotations(sage_home: Path) -> None:
    log = SessionLog.open(sessions_dir(), session_id="live", max_mb=0.002)
    log.emit("ERROR", {"where": "w", "kind": "k", "message": "before"})
    done = threading.Event()

    def write() -> None:
        for i in range(300):
            log.emit("TOOL_RESULT", {"summary": f"{i} " + "x" * 80})
            if i % 50 == 0:
                time.sleep(0.01)
        log.close()
        done.set()

    seen: list[int] = []
    writer = threading.Thread(target=write)
    writer.start()
    parts = resolve("live", sessions_dir()).sessions[0]
    for record in follow(parts, poll=0.01, stop=done.is_set):
        seen.append(record["seq"])
    writer.join()
    # stop() is checked only when idle, so everything written before it is drained.
    assert seen == list(range(1, 302))
    assert len(list((sage_home / "data" / "sessions").glob("live.*.jsonl"))) >= 5



def test_a_rotation_between_looking_and_opening_is_waited_out(sage_home: Path) -> None:
    # The writer renames the live file to a numbered part and only then opens a new one;
    # a follower that saw the live file an instant before must not fail on the open (CI
    # hit this: FileNotFoundError out of `sage trace --follow`).
    from pathlib import PosixPath

    from sage_tui.core.log.follow import Tail

    log = SessionLog.open(sessions_dir(), session_id="racing", max_mb=0.002)
    log.emit("ERROR", {"where": "w", "kind": "k", "message": "before"})
    log.close()
    tail = Tail(resolve("racing", sessions_dir()).sessions[0])
    live = tail.live
    live.rename(live.with_name("racing.1.jsonl"))  # rotated; the new live file not yet made

    class JustSeen(PosixPath):
        def exists(self, *args: object, **kwargs: object) -> bool:
            return True  # what the follower saw a moment before the rename

    tail.live = JustSeen(live)
    assert list(tail.records()) == []  # nothing yet: the next poll finds the new file
    tail.live = live
    live.write_bytes(b"")
    assert [r["data"]["message"] for r in tail.records()] == ["before"]

def test_following_a_trace_id_merges_its_sessions_including_one_started_later(
        sage_home: Path) -> None:
    from sage_tui.core.log.follow import follow_trace

    first = SessionLog.open(sessions_dir(), session_id="term-1", trace_id="ci-42", max_mb=0.002)
    other = SessionLog.open(sessions_dir(), session_id="term-x", trace_id="ci-other")
    first.emit("ERROR", {"where": "a", "kind": "k", "message": "first terminal"})
    other.emit("ERROR", {"where": "x", "kind": "k", "message": "not this trace"})
    seen: list[str] = []
    later: list[SessionLog] = []

    def act() -> bool:  # called whenever the follower is idle: the next terminal acts
        if len(seen) == 1 and not later:
            later.append(SessionLog.open(sessions_dir(), session_id="term-2", trace_id="ci-42"))
            later[0].emit("ERROR", {"where": "b", "kind": "k", "message": "second terminal"})
            for i in range(40):  # the first terminal rotates its log meanwhile
                first.emit("TOOL_RESULT", {"summary": f"{i} " + "x" * 80})
            other.emit("ERROR", {"where": "x", "kind": "k", "message": "still not this trace"})
        return len(seen) >= 42

    for record in follow_trace("ci-42", sessions_dir(), poll=0.01, stop=act):
        seen.append(str(record["data"].get("message") or record["data"].get("summary")))
    for log in (first, other, *later):
        log.close()
    assert seen[0] == "first terminal" and "second terminal" in seen
    assert not any("not this trace" in s for s in seen)
    assert [s for s in seen if s[0].isdigit()] == [f"{i} " + "x" * 80 for i in range(40)]
    assert len(list((sage_home / "data" / "sessions").glob("term-1.*.jsonl"))) >= 1


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_a_trace_id_is_found_wherever_a_read_chunk_cuts_it(tmp_path: Path, chunk: int) -> None:
    from sage_tui.core.log.logfiles import find_in_file
    from sage_tui.core.log.sessions import trace_needle

    needle = trace_needle("ci-42")
    for at in range(0, 40):
        path = tmp_path / f"{at}.jsonl"
        path.write_bytes(b"x" * at + needle + b"y" * 5)
        assert find_in_file(path, needle, chunk=chunk)[0], (chunk, at)
        path.write_bytes(b"x" * at + needle[:-1] + b"y" * 5)
        found, stopped = find_in_file(path, needle, chunk=chunk)
        assert not found
        with path.open("ab") as handle:  # the file grows: the search resumes where it stopped
            handle.write(b"z" + needle)
        assert find_in_file(path, needle, stopped, chunk=chunk)[0]


def test_trace_follow_on_the_command_line_shows_both_terminals(sage_home: Path) -> None:
    import os
    import subprocess
    import sys

    first = SessionLog.open(sessions_dir(), session_id="cli-1", trace_id="ci-77")
    first.emit("ERROR", {"where": "a", "kind": "k", "message": "from terminal one"})
    follower = subprocess.Popen([sys.executable, "-m", "sage_tui", "trace", "ci-77", "--follow"],
                                stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    watchdog = threading.Timer(60, follower.kill)  # a follower that never prints fails, not hangs
    watchdog.start()
    try:
        assert follower.stdout is not None
        assert "from terminal one" in follower.stdout.readline()
        second = SessionLog.open(sessions_dir(), session_id="cli-2", trace_id="ci-77")
        second.emit("ERROR", {"where": "b", "kind": "k", "message": "from terminal two"})
        line = follower.stdout.readline()
        assert "from terminal two" in line and "cli-2"[-6:] in line
        second.close()
    finally:
        watchdog.cancel()
        follower.terminate()
        follower.wait(10)
        first.close()
