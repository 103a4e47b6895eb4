"""Shell completion as a shell drives it: click's protocol (`_SAGE_COMPLETE`, `COMP_WORDS`,
`COMP_CWORD`) against the real `sage`, offering recorded session ids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_sessions import record_session


def complete(words: str, shell: str = "bash") -> list[str]:
    """What `sage` offers for the last word of `words` (bash: one value a line)."""
    parts = words.split(" ")
    env = {**os.environ, "_SAGE_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(parts) - 1)}
    out = subprocess.run([sys.executable, "-c", "from sage_tui.launcher import main; main()"],
                         env=env, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return [line for line in out.stdout.splitlines() if line]


def test_trace_resume_replay_and_eval_diff_complete_recorded_session_ids(sage_home: Path) -> None:
    record_session("alpha-1111", turns=1)
    record_session("alpha-2222", turns=1)
    record_session("beta-3333", turns=1)
    offered = ["plain,alpha-2222", "plain,alpha-1111"]  # newest first
    assert complete("sage trace alp") == offered
    assert complete("sage resume alp") == offered
    assert complete("sage replay alp") == offered
    assert complete("sage eval diff beta-3333 alp") == offered
    assert complete("sage trace ")[0].startswith("plain,")
    assert {line.split(",")[1] for line in complete("sage trace ")} == {
        "alpha-1111", "alpha-2222", "beta-3333"}
    assert complete("sage trace zzz") == []


def test_zsh_shows_each_sessions_start_and_workspace(sage_home: Path) -> None:
    record_session("gamma-4444", turns=1)
    lines = complete("sage trace gam", shell="zsh")
    assert lines[:2] == ["plain", "gamma-4444"]
    assert "gamma-4444" in lines[2] and "q1" in lines[2]  # workspace name and first message


def test_commands_still_complete(sage_home: Path) -> None:
    assert "plain,doctor" in complete("sage doc")
    assert "plain,completion" in complete("sage comp")


def test_with_no_sessions_nothing_is_offered_and_nothing_is_created(sage_home: Path) -> None:
    assert complete("sage trace ") == []
    assert list(sage_home.iterdir()) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(shell: str) -> None:
    out = subprocess.run([sys.executable, "-m", "sage_tui", "completion", shell],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "_SAGE_COMPLETE" in out.stdout
    if shell == "bash" and shutil.which("bash"):  # the script is valid bash
        check = subprocess.run(["bash", "-n"], input=out.stdout, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    out = subprocess.run([sys.executable, "-m", "sage_tui", "completion", "tcsh"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in out.stderr
