"""A day with SAGE in a real terminal (tmux), against the fake Ollama: ask about `@calc.py`, quit,
`sage --continue`, have a patch made, commit it from the offer, `/undo` it (a revert commit),
`/redo` it. The project's AGENTS.md and the pinned file reach the coder; the router of the
continued session hears the earlier question."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git_repo
from tests.e2e.test_code_flow import CALC, DIFF, TESTS, UTIL, coder_call, coder_says
from tests.e2e.test_demo_tmux import SESSION, tmux, wait_for
from tests.test_run_cli import Start

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (.ci/run installs it)")
RULE = "Name every helper in snake_case."
SCENARIO = {"rules": [
    {"when": {"role": "router", "contains": "fix"}, "reply": {"json": {
        "kind": "code", "reasoningText": "asks for a fix", "experts": ["retrieval"]}}},
    {"when": {"role": "router"}, "reply": {"json": {
        "kind": "qa", "reasoningText": "a question", "experts": ["retrieval"]}}},
    {"when": {"role": "planner"}, "reply": {"json": {"steps": ["Make add() add",
                                                              "Bump VERSION to 0.2"]}}},
    {"when": {"role": "coder", "has_tools": False}, "reply": "add() is in calc.py:1 and subtracts."},
    coder_call("propose_patch", diff=DIFF),
    coder_says("I fixed add() and bumped the version."),
    {"when": {"role": "reviewer"}, "reply": "add() now adds; VERSION is 0.2."},
    {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                        "user_preferences": []}}},
]}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def keys(*typed: str) -> None:
    tmux("send-keys", "-t", SESSION, *typed)


def open_sage(home: Path, host: str, repo: Path, *args: str) -> None:
    sage = Path(sys.executable).with_name("sage")
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-x", "140", "-y", "45", "-s", SESSION, "env", "-u", "COLUMNS",
         "-u", "LINES", f"SAGE_HOME={home}", f"OLLAMA_HOST={host}", "bash", "-c",
         f"{sage} {' '.join(args)} -w {repo}; echo SAGE-EXITED-$?; sleep 30")
    wait_for("research")  # drawn; then a resize, in case the first size was read too early
    for width in ("139", "140"):  # (a loaded machine can start the app before the pty has
        tmux("resize-window", "-t", SESSION, "-x", width, "-y", "45")  # its size)
    wait_for("Routing & events")


@pytest.mark.slow
def test_continue_commit_undo_redo_in_a_terminal(tmp_path: Path, fake_ollama: Start) -> None:
    repo = git_repo(tmp_path / "repo", {"calc.py": CALC, "util.py": UTIL,
                                         "tests/test_calc.py": TESTS, "AGENTS.md": f"{RULE}\n"})
    server = fake_ollama(SCENARIO)
    home = tmp_path / "home"
    try:
        open_sage(home, server.host, repo)
        keys("where is add? see @calc.py", "Enter")
        wait_for("subtracts.")
        keys("C-q")
        wait_for("SAGE-EXITED-0")

        open_sage(home, server.host, repo, "--continue")
        shown = wait_for("Continued session")
        assert "where is add? see @calc.py" in shown and "next turn is 2" in shown
        keys("fix add and bump the version", "Enter")
        wait_for("Plan checkpoint")
        keys("a")
        wait_for("0 decided, 0 approved")  # only the reviewer shows it
        keys("y", "y", "Enter")
        wait_for("Commit these changes?", timeout=120)  # after the tests went green
        keys("C-s")
        wait_for("Committed")
        committed = git(repo, "rev-parse", "HEAD").strip()
        keys("/undo", "Enter")
        wait_for("Revert it?")
        keys("y")
        wait_for("the revert of commit")
        keys("/redo", "Enter")
        wait_for("Redo it")
        keys("y")
        wait_for("applied again")
        keys("C-q")
        wait_for("SAGE-EXITED-0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    routers = [json.dumps(r.body["messages"]) for r in server.chat_requests("router")]
    assert "where is add?" in routers[-1]  # the continued session's router heard it
    coders = [json.dumps(r.body["messages"]) for r in server.chat_requests("coder")]
    assert RULE in coders[0] and "return a - b" in coders[0]  # AGENTS.md and @calc.py
    message = git(repo, "log", "-1", "--format=%B", committed)
    [log] = (home / "data" / "sessions").glob("*.jsonl")
    session_id = log.name.removesuffix(".jsonl")
    assert f"Sage-Session: {session_id}" in message
    assert f"This reverts commit {committed}." in git(repo, "log", "-1", "--format=%B")
    assert "return a + b" in (repo / "calc.py").read_text()  # redone on top of the revert
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["turn"] for r in records if r["event"] == "USER_MESSAGE"] == [1, 2]
    assert [r["event"] for r in records].count("SESSION_RESUMED") == 1
