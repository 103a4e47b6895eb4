"""`sage apply` and `sage undo` as a user runs them; a bad policy file fails at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.core.log.sessionlog import read_session
from tests.conftest import git_repo
from tests.helpers import sessions_dir

FILES = {"a.txt": "one\ntwo\nthree\n", "b.txt": "alpha\nbeta\n"}
DIFF = ("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
        "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+BETA\n")


def sage(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SAGE_SESSION_ID": "apply-cli"})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = git_repo(tmp_path / "repo", FILES)
    (tmp_path / "change.diff").write_text(DIFF)
    return root


def test_check_then_apply_some_hunks_then_undo(repo: Path) -> None:
    patch = str(repo.parent / "change.diff")
    check = sage("apply", patch, "--check", "-w", str(repo))
    assert check.returncode == 0 and "2 hunk(s) would apply" in check.stdout
    assert (repo / "a.txt").read_text() == FILES["a.txt"]
    applied = sage("apply", patch, "--hunks", "2", "--json", "-w", str(repo))
    result = json.loads(applied.stdout)
    assert applied.returncode == 0 and result["ok"]
    assert [(h["index"], h["status"]) for h in result["hunks"]] == [(1, "skipped"), (2, "applied")]
    assert (repo / "a.txt").read_text() == FILES["a.txt"]
    assert (repo / "b.txt").read_text() == "alpha\nBETA\n"
    records = list(read_session("apply-cli", sessions_dir()))
    events = [r["event"] for r in records]
    assert events[-7:] == ["PATCH_PROPOSED", "HUMAN_CHECKPOINT_REACHED", "HUNK_DECISION",
                           "HUNK_DECISION", "CHECKPOINT_RESOLVED", "PATCH_APPLIED",
                           "SESSION_ENDED"]  # the checkpoint service, as in the workbench
    resolved = records[-3]["data"]
    assert resolved["by"] == "person" and resolved["patch_id"] == records[-7]["data"]["patch_id"]
    preview = sage("undo", "--check", "-w", str(repo))
    assert preview.returncode == 0 and "-BETA" in preview.stdout and "+beta" in preview.stdout
    assert (repo / "b.txt").read_text() == "alpha\nBETA\n"
    undone = sage("undo", "-w", str(repo))
    assert undone.returncode == 0 and "restored b.txt" in undone.stdout
    assert (repo / "b.txt").read_text() == FILES["b.txt"]
    again = sage("undo", "-w", str(repo))
    assert again.returncode == 1 and again.stderr.startswith("Error: Nothing to undo")
    preview = sage("redo", "--check", "-w", str(repo))  # the undone patch can come back
    assert preview.returncode == 0 and "+BETA" in preview.stdout
    assert (repo / "b.txt").read_text() == FILES["b.txt"]
    redone = sage("redo", "-w", str(repo))
    assert redone.returncode == 0 and "applied again to b.txt" in redone.stdout
    assert (repo / "b.txt").read_text() == "alpha\nBETA\n"
    assert sage("redo", "-w", str(repo)).stderr.startswith("Error: Nothing to redo")
    assert sage("undo", "-w", str(repo)).returncode == 0  # and undone again
    assert (repo / "b.txt").read_text() == FILES["b.txt"]


def test_apply_from_stdin_and_a_stale_patch_changes_nothing(repo: Path) -> None:
    (repo / "b.txt").write_text("alpha\nchanged\n")
    before = {p: (repo / p).read_bytes() for p in FILES}
    out = sage("apply", "-", "-w", str(repo), stdin=DIFF)
    assert out.returncode == 1
    assert "hunk 2" in out.stdout and "b.txt" in out.stdout
    assert out.stderr.startswith("Error: nothing was changed")
    assert {p: (repo / p).read_bytes() for p in FILES} == before


@pytest.mark.parametrize("args,message", [
    (["apply", "missing.diff"], "does not exist"),
    (["apply", "{patch}", "--hunks", "3"], "--hunks takes positions from 1 to 2"),
    (["apply", "{patch}", "--hunks", "x"], "--hunks takes positions"),
])
def test_usage_errors_exit_2(repo: Path, args: list[str], message: str) -> None:
    patch = str(repo.parent / "change.diff")
    out = sage(*[a.replace("{patch}", patch) for a in args], "-w", str(repo))
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_a_malformed_patch_is_one_sentence(repo: Path) -> None:
    out = sage("apply", "-", "-w", str(repo), stdin="not a diff at all\n")
    assert out.returncode == 1 and "holds no unified diff" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_bad_policy_file_fails_at_start_up(repo: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {tool: run_command, verdict: perhaps}\n")
    out = subprocess.run([sys.executable, "-m", "sage_tui", "run", "hello", "-w", str(repo)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SAGE_TOOL_POLICY": str(policy),
                              "OLLAMA_HOST": "127.0.0.1:9"})
    assert out.returncode == 2
    assert out.stderr == (f"Error: {policy}: rule 1: verdict must be one of allow, ask, deny, "
                          "got 'perhaps'.\n")
