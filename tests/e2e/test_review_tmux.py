"""`cat fix.patch | sage review -` in a real terminal: the patch comes down the pipe, the keys
come from the person, and the review is a session in the log like any other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git_repo
from tests.e2e.test_demo_tmux import SESSION, tmux, wait_for

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
    reason="tmux is not installed (.ci/run installs it)")
DIFF = ("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
        "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+BETA\n")


@pytest.mark.slow
def test_a_piped_patch_is_reviewed_with_keys_from_the_terminal(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\nthree\n", "b.txt": "alpha\nbeta\n"})
    (tmp_path / "fix.patch").write_text(DIFF)
    sage = Path(sys.executable).with_name("sage")
    command = (f"cat {tmp_path / 'fix.patch'} | {sage} review - -w {repo}; "
               "echo SAGE-EXITED-$?; sleep 30")
    home = tmp_path / "home"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-x", "140", "-y", "45", "-s", SESSION, "env", f"SAGE_HOME={home}",
         "SAGE_SESSION_ID=piped-review", "bash", "-c", command)
    try:
        wait_for("0 decided, 0 approved")  # the reviewer's own title
        tmux("send-keys", "-t", SESSION, "y", "n", "Enter")  # one burst
        shown = wait_for("SAGE-EXITED-")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    assert "SAGE-EXITED-0" in shown and "Applied 1 hunk(s) to a.txt." in shown
    assert (repo / "a.txt").read_text() == "one\nTWO\nthree\n"
    assert (repo / "b.txt").read_text() == "alpha\nbeta\n"
    [log] = (home / "data" / "sessions").glob("*piped-review*.jsonl")
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events == ["SESSION_STARTED", "PATCH_PROPOSED", "HUMAN_CHECKPOINT_REACHED",
                      "HUNK_DECISION", "HUNK_DECISION", "CHECKPOINT_RESOLVED", "PATCH_APPLIED",
                      "SESSION_ENDED"]
