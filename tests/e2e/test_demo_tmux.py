"""The real `sage demo` in a real terminal (tmux): type, approve the plan, approve one hunk,
reject the other, apply, and check the file on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import state_of

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (.ci/run installs it)")
SESSION = "sage-demo-e2e"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen shows:\n{screen()}")


@pytest.mark.slow
def test_demo_in_tmux(tmp_path: Path) -> None:
    sage = Path(sys.executable).with_name("sage")
    command = f"{sage} demo --keep; echo SAGE-EXITED-$?; sleep 30"
    env_args = [f"SAGE_HOME={tmp_path / 'home'}", f"TMPDIR={tmp_path}"]
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-x", "140", "-y", "45", "-s", SESSION,
         "env", *env_args, "bash", "-c", command)
    try:
        wait_for("Welcome to the SAGE demo")
        tmux("send-keys", "-t", SESSION, "please fix the word count", "Enter")
        wait_for("Plan checkpoint")
        tmux("send-keys", "-t", SESSION, "a")
        wait_for("0 decided, 0 approved")  # only the reviewer shows it (the footer says "Review patch")
        tmux("send-keys", "-t", SESSION, "y")
        wait_for("1 decided, 1 approved")
        tmux("send-keys", "-t", SESSION, "n")
        wait_for("2 decided, 1 approved")
        tmux("send-keys", "-t", SESSION, "Enter")
        shown = wait_for("What changed")
        assert "passed" in wait_for("2 passed")
        assert "applied" in shown
        tmux("send-keys", "-t", SESSION, "C-q")
        wait_for("SAGE-EXITED-0")
        kept = wait_for("kept at")
        folder = kept.split("kept at ", 1)[1].split()[0].rstrip(".")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    project = Path(folder)
    assert "return len(words(text))" in (project / "textstats.py").read_text()
    assert "counts words" not in (project / "README.md").read_text()  # hunk 2 was rejected
    audit = state_of(project, tmp_path / "home") / "audit.jsonl"
    assert "hunk_decision" in audit.read_text()  # in SAGE's state folder, not the repository
    assert not os.path.exists(project / ".sage" / "audit.jsonl")


@pytest.mark.slow
def test_demo_mode_key_in_a_modal_and_a_burst_of_keys_in_tmux(tmp_path: Path) -> None:
    sage = Path(sys.executable).with_name("sage")
    command = f"{sage} demo --keep; echo SAGE-EXITED-$?; sleep 30"
    env_args = [f"SAGE_HOME={tmp_path / 'home'}", f"TMPDIR={tmp_path}"]
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-x", "140", "-y", "45", "-s", SESSION,
         "env", *env_args, "bash", "-c", command)
    try:
        wait_for("Welcome to the SAGE demo")
        tmux("send-keys", "-t", SESSION, "please fix the word count", "Enter")
        wait_for("Plan checkpoint")
        tmux("send-keys", "-t", SESSION, "BTab", "BTab")  # shift+tab, twice, on the modal
        tmux("send-keys", "-t", SESSION, "a")
        shown = wait_for("[1/2]")  # the reviewer's own title: it has just opened
        tmux("send-keys", "-t", SESSION, "y", "y", "Enter")  # one burst, no waiting
        shown = wait_for("What changed")
        assert "auto" not in shown.splitlines()[-2].split("│")[0]  # the status bar's mode
        tmux("send-keys", "-t", SESSION, "C-q")
        kept = wait_for("kept at")
        folder = kept.split("kept at ", 1)[1].split()[0].rstrip(".")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    project = Path(folder)
    assert "return len(words(text))" in (project / "textstats.py").read_text()
    assert "counts words" in (project / "README.md").read_text()  # both hunks applied
    log = "\n".join(p.read_text() for p in (tmp_path / "home" / "data" / "sessions").glob("*.jsonl"))
    assert '"MODE_CHANGED"' not in log and '"skipped":true' not in log
