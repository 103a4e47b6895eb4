"""Continuing a session from its log: `sage run --continue`, `SAGE_SESSION_ID=<old>`, and what
comes back (transcript, turns, tokens, summary, waiting patches, mode), read from the log alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sage_tui.core.agent.resume import History
from sage_tui.core.log.sessionlog import read_session
from sage_tui.core.log.sessions import list_sessions
from sage_tui.core.patch.model import parse_patch
from tests.conftest import git_repo
from tests.helpers import sessions_dir
from tests.test_run_cli import QA, Start

DIFF = ("--- a/cli.py\n+++ b/cli.py\n@@ -1,2 +1,2 @@\n def main():\n-    start_server(port=8080)\n"
        "+    start_server(port=9090)\n")


def sage(workspace: Path, *args: str, host: str, session: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SAGE_SESSION_ID"}
    env["OLLAMA_HOST"] = host
    if session is not None:
        env["SAGE_SESSION_ID"] = session
    return subprocess.run([sys.executable, "-m", "sage_tui", *args, "--workspace",
                           str(workspace)], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_run_continue_sends_the_earlier_messages_and_counts_turns_on(
        tmp_path: Path, fake_ollama: Start) -> None:
    repo = git_repo(tmp_path / "repo", {"cli.py": "def main():\n    start_server(port=8080)\n"})
    server = fake_ollama(QA)
    first = sage(repo, "run", "where does the server start?", "--mode", "silent", host=server.host)
    assert first.returncode == 0, first.stderr
    [listed] = list_sessions(sessions_dir())
    second = sage(repo, "run", "--continue", "and on which port?", "--mode", "silent",
                  host=server.host)
    assert second.returncode == 0, second.stderr
    assert len(list_sessions(sessions_dir())) == 1  # the same session, continued
    router = server.chat_requests("router")[-1].body["messages"]
    said = json.dumps(router)
    assert "where does the server start?" in said and "on which port" in said  # the history
    coder = json.dumps(server.chat_requests("coder")[-1].body["messages"])
    assert "where does the server start?" in coder
    records = list(read_session(listed.session_id, sessions_dir()))
    events = [r["event"] for r in records]
    assert events.count("SESSION_STARTED") == 1 and events.count("SESSION_RESUMED") == 1
    resumed = next(r for r in records if r["event"] == "SESSION_RESUMED")
    assert (resumed["data"]["turns"], resumed["data"]["messages"]) == (1, 2)
    assert [r["turn"] for r in records if r["event"] == "USER_MESSAGE"] == [1, 2]
    ends = [r["data"] for r in records if r["event"] == "SESSION_ENDED"]
    assert ends[-1]["turns"] == 2
    assert ends[-1]["tokens"]["prompt_tokens"] > ends[0]["tokens"]["prompt_tokens"] > 0
    [summary] = list_sessions(sessions_dir())
    assert summary.turns == 2 and summary.status == "ok"  # `sage trace` counts both turns
    assert summary.first_message == "where does the server start?"


def test_run_continue_without_an_earlier_session_starts_a_new_one(
        tmp_path: Path, fake_ollama: Start) -> None:
    repo = git_repo(tmp_path / "repo", {"cli.py": "def main():\n    pass\n"})
    server = fake_ollama(QA)
    out = sage(repo, "run", "--continue", "what is here?", "--mode", "silent", host=server.host)
    assert out.returncode == 0, out.stderr
    assert "No earlier session in" in out.stderr and "starting a new one" in out.stderr


def test_a_session_of_another_workspace_is_refused_with_one_sentence(
        tmp_path: Path, fake_ollama: Start) -> None:
    one = git_repo(tmp_path / "one", {"cli.py": "def main():\n    pass\n"})
    other = git_repo(tmp_path / "other", {"cli.py": "def main():\n    pass\n"})
    server = fake_ollama(QA)
    assert sage(one, "run", "hello", "--mode", "silent", host=server.host,
                session="shared").returncode == 0
    out = sage(other, "run", "hello", "--mode", "silent", host=server.host, session="shared")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("Error: Session shared was recorded in")
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _record(seq: int, turn: int, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "seq": seq, "ts": "2026-12-02T10:00:00.000Z", "session_id": "s",
            "trace_id": None, "turn": turn, "event": event, "data": data}


def _log(*events: tuple[int, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [_record(n, turn, event, data) for n, (turn, event, data) in enumerate(events, 1)]


def test_the_log_gives_back_transcript_summary_tokens_mode_and_waiting_patches() -> None:
    hunk = parse_patch(DIFF).hunks[0].hunk_id
    usage = {"role": "coder", "model": "m", "prompt_tokens": 100, "completion_tokens": 7,
             "source": "ollama", "session": {}, "num_ctx": 8192}
    history = History.read(_log(
        (0, "SESSION_STARTED", {"workspace": "/w", "mode": "research"}),
        (1, "USER_MESSAGE", {"text": "first", "role": "user"}),
        (1, "TOKEN_USAGE", usage),
        (1, "ASSISTANT_MESSAGE", {"text": "answer one", "role": "coder"}),
        (2, "USER_MESSAGE", {"text": "/tokens? no: a fast path", "role": "user"}),
        (2, "ASSISTANT_MESSAGE", {"text": "tokens...", "role": "sage"}),  # not in the transcript
        (3, "USER_MESSAGE", {"text": "change the port", "role": "user"}),
        (3, "PATCH_PROPOSED", {"patch_id": "p-1", "files": ["cli.py"], "hunks": 1, "diff": DIFF}),
        (3, "HUNK_DECISION", {"patch_id": "p-1", "hunk_id": hunk, "decision": "approve"}),
        (3, "CHECKPOINT_RESOLVED", {"checkpoint": "patch", "decision": "defer", "patch_id": "p-1"}),
        (3, "PATCH_PROPOSED", {"patch_id": "p-2", "files": ["cli.py"], "hunks": 1, "diff": DIFF}),
        (3, "CHECKPOINT_RESOLVED", {"checkpoint": "patch", "decision": "reject", "patch_id": "p-2"}),
        (3, "PATCH_PROPOSED", {"patch_id": "p-3", "files": ["cli.py"], "hunks": 1,
                               "diff": DIFF.replace("9090", "[REDACTED:token]")}),
        (3, "CHECKPOINT_RESOLVED", {"checkpoint": "patch", "decision": "defer", "patch_id": "p-3"}),
        (3, "ASSISTANT_MESSAGE", {"text": "patch p-1 waits", "role": "reviewer"}),
        (3, "SUMMARY_UPDATED", {"text": "They asked about ports.", "absorbed": 2}),
        (3, "TOKEN_USAGE", usage),
        (3, "MODE_CHANGED", {"from": "research", "to": "auto", "by": "person"}),
        (3, "MODEL_ROUTING_DECISION", {"role": "coder", "model": "big:14b", "host": "h",
                                       "reason": "user"}),
    ))
    assert history.turn == 3 and history.mode == "auto" and history.last_seq == 19
    assert [m["content"] for m in history.transcript] == [
        "first", "answer one", "change the port", "patch p-1 waits"]
    assert (history.summary, history.absorbed) == ("They asked about ports.", 2)
    assert [u["prompt_tokens"] for u in history.usage] == [100, 100]
    assert history.chosen_models == {"coder": "big:14b"}
    assert list(history.waiting) == ["p-1"]  # p-2 was discarded
    assert history.waiting["p-1"].decided == {hunk: "approve"}
    assert len(history.lost) == 1 and "p-3" in history.lost[0]  # its diff lost a secret


def test_clear_starts_the_transcript_afresh_and_landed_patches_follow_commits() -> None:
    history = History.read(_log(
        (1, "USER_MESSAGE", {"text": "old", "role": "user"}),
        (1, "ASSISTANT_MESSAGE", {"text": "old answer", "role": "coder"}),
        (1, "PATCH_APPLIED", {"patch_id": "p-1", "files": ["a.py"], "hunks": []}),
        (1, "PATCH_APPLIED", {"patch_id": "p-2", "files": ["b.py"], "hunks": []}),
        (1, "COMMIT_CREATED", {"sha": "abc", "message": "m", "files": ["a.py"], "by": "person",
                               "patches": ["p-1"]}),
        (1, "CONVERSATION_CLEARED", {"by": "person", "messages": 2}),
        (2, "USER_MESSAGE", {"text": "new", "role": "user"}),
        (2, "ASSISTANT_MESSAGE", {"text": "new answer", "role": "coder"}),
    ))
    assert [m["content"] for m in history.transcript] == ["new", "new answer"]
    assert history.landed == {"p-2": ["b.py"]} and history.committed == {"p-1": "abc"}


def test_a_patch_cut_off_mid_review_by_a_crash_still_waits() -> None:
    history = History.read(_log(
        (1, "PATCH_PROPOSED", {"patch_id": "p-1", "files": ["cli.py"], "hunks": 1, "diff": DIFF}),
        (1, "HUMAN_CHECKPOINT_REACHED", {"checkpoint": "patch", "patch_id": "p-1"}),
    ))
    assert list(history.waiting) == ["p-1"]
    cut = History.read(_log(
        (1, "PATCH_PROPOSED", {"patch_id": "p-1", "files": ["cli.py"], "hunks": 2, "diff": DIFF}),
    ))
    assert not cut.waiting and "cannot be applied as it was" in cut.lost[0]  # a hunk is missing


def test_resume_names_what_is_wrong_before_it_needs_a_terminal(
        tmp_path: Path, fake_ollama: Start) -> None:
    repo = git_repo(tmp_path / "repo", {"cli.py": "def main():\n    pass\n"})
    server = fake_ollama(QA)
    out = sage(repo, "resume", host=server.host)
    assert out.returncode == 1 and "No earlier session in" in out.stderr
    out = sage(repo, "resume", "nope", host=server.host)
    assert out.returncode == 2 and "No session, log file or trace id 'nope'" in out.stderr
    assert sage(repo, "run", "hi", "--mode", "silent", host=server.host,
                session="earlier-one").returncode == 0
    out = sage(repo, "resume", "earlier", host=server.host)  # a prefix, and now a terminal
    assert out.returncode == 2 and "needs a terminal" in out.stderr


@pytest.mark.anyio
async def test_the_session_picker_lists_time_first_message_turns_tokens() -> None:
    from sage_tui.core.log.sessions import SessionSummary
    from sage_tui.ui.screens.pickers import PickerApp, session_picker

    sessions = [SessionSummary("s-new", "2026-12-02T10:00:00.000Z", "/w", "auto", 3, 1200, 34,
                               False, "ok", None, "fix the \x1b[31mparser"),
                SessionSummary("s-old", "2026-12-01T09:00:00.000Z", "/w", "research", 1, 10, 2,
                               False, "ok", None, "")]
    app = PickerApp(session_picker(sessions))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        shown = [str(o.prompt) for o in app.screen.query_one("OptionList").options]  # type: ignore[attr-defined]
        assert "3 turns" in shown[0] and "1,234 tokens" in shown[0]
        assert "fix the parser" in shown[0] and "\x1b" not in shown[0]  # plain, no escapes
        assert "(no message)" in shown[1]
        await pilot.press("down", "enter")
    assert app.return_value == "s-old"


def test_a_reverted_or_redone_patch_is_no_longer_counted_as_committed() -> None:
    history = History.read(_log(
        (1, "PATCH_APPLIED", {"patch_id": "p-1", "files": ["a.py"], "hunks": []}),
        (1, "COMMIT_CREATED", {"sha": "c1", "message": "m", "files": ["a.py"], "by": "person",
                               "patches": ["p-1"]}),
        (2, "PATCH_REVERTED", {"patch_id": "p-1", "files": ["a.py"], "hunks": []}),
        (2, "COMMIT_CREATED", {"sha": "c2", "message": "Revert", "files": ["a.py"],
                               "by": "person", "patches": [], "reverts": "c1"}),
        (3, "PATCH_APPLIED", {"patch_id": "p-1", "files": ["a.py"], "hunks": [],
                              "redone": True}),
        (3, "CONTEXT_CHANGED", {"pinned": ["a.py:1-3"], "by": "person"}),
    ))
    assert history.committed == {} and history.landed == {"p-1": ["a.py"]}
    assert history.pinned == ["a.py:1-3"]
