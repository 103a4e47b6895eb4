"""Conventions people who live in the terminal rely on: NO_COLOR and --color/--no-color,
-v/-q, and one grammatical sentence per error that names the file and line (docs/cli.md)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git_repo
from tests.fake_ollama import FakeOllamaServer
from tests.test_run_cli import QA

ROOT = Path(__file__).resolve().parent.parent
ESC = "\x1b"


def in_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What `sage ARGS` writes to a terminal (a pseudo-terminal: isatty() is true)."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sage_tui", *args], stdin=secondary,
                            stdout=secondary, stderr=secondary, env={**os.environ, **env},
                            close_fds=True)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(main)
    return seen.decode("utf-8", "replace")


def sage(*args: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, cwd=cwd,
                          stdin=subprocess.DEVNULL)


# -- colour ---------------------------------------------------------------------------------

def test_no_color_sage_doctor_in_a_terminal_prints_no_escape_sequence(dead_host: str) -> None:
    coloured = in_a_terminal(["doctor"], {"OLLAMA_HOST": dead_host})
    assert ESC in coloured and "✗" in coloured  # a terminal gets colour...
    plain = in_a_terminal(["doctor"], {"OLLAMA_HOST": dead_host, "NO_COLOR": "1"})
    assert "✗" in plain and ESC not in plain  # ...unless NO_COLOR says otherwise
    flag = in_a_terminal(["--no-color", "doctor"], {"OLLAMA_HOST": dead_host})
    assert "✗" in flag and ESC not in flag


def test_an_empty_no_color_changes_nothing(dead_host: str) -> None:
    assert ESC in in_a_terminal(["doctor"], {"OLLAMA_HOST": dead_host, "NO_COLOR": ""})


def test_color_forces_colour_into_a_pipe(dead_host: str) -> None:
    env = {"OLLAMA_HOST": dead_host}
    assert ESC not in sage("doctor", env=env).stdout  # a pipe: plain by default
    assert ESC in sage("--color", "doctor", env=env).stdout
    assert ESC in sage("--color", "doctor", env={**env, "NO_COLOR": "1"}).stdout  # flag wins


def test_no_color_sage_trace_and_apply_in_a_terminal(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\n"})
    patch = tmp_path / "one.diff"
    patch.write_text("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n")
    check = ["apply", str(patch), "--check", "--workspace", str(repo)]
    assert ESC in in_a_terminal(check, {})
    assert ESC not in in_a_terminal(check, {"NO_COLOR": "1"})
    assert sage("apply", str(patch), "--workspace", str(repo)).returncode == 0
    assert ESC in in_a_terminal(["trace"], {})
    assert ESC not in in_a_terminal(["trace"], {"NO_COLOR": "1"})


# -- verbosity ------------------------------------------------------------------------------

def test_quiet_says_only_the_answer_and_verbose_narrates_every_event(
        tmp_path: Path, fake_ollama: Callable[..., FakeOllamaServer]) -> None:
    server = fake_ollama(QA)
    repo = git_repo(tmp_path / "repo", {"cli.py": "def main():\n    start_server(port=8080)\n"})
    env = {"OLLAMA_HOST": server.host}
    task = ["run", "where does the server start?", "--continue", "--workspace", str(repo)]
    normal = sage(*task, env=env)
    assert normal.returncode == 0 and "starts the server on port 8080" in normal.stdout
    assert "No earlier session" in normal.stderr and "· route_decision" in normal.stderr
    quiet = sage("-q", *task[:2], "--workspace", str(repo), env=env)
    assert quiet.returncode == 0 and "starts the server on port 8080" in quiet.stdout
    assert quiet.stderr == ""
    silent = sage("-v", *task[:2], "--mode", "silent", "--workspace", str(repo), env=env)
    assert silent.returncode == 0
    assert "· model_routing_decision" in silent.stderr and "· token_usage" in silent.stderr


def _crashing(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`sage ARGV` with a `crash` command that fails unexpectedly (a bug, not a SageError)."""
    code = ("import sys\nfrom sage_tui import cli, launcher\n"
            "@cli.cli.command()\ndef crash():\n    raise RuntimeError('the disk said no')\n"
            f"launcher.main({argv!r})\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SAGE_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)


def test_an_unexpected_error_is_one_sentence_and_verbose_shows_its_stack() -> None:
    plain = _crashing(["crash"])
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == [
        "Error: unexpected RuntimeError: the disk said no (run with -v or set SAGE_DEBUG=1 to "
        "see where, and please report it)."]
    verbose = _crashing(["-v", "crash"])
    assert verbose.returncode == 1 and "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("Error: unexpected RuntimeError")


def test_verbose_and_quiet_together_are_a_usage_error() -> None:
    out = sage("-v", "-q", "trace")
    assert out.returncode == 2 and "--verbose and --quiet contradict each other" in out.stderr


# -- error sentences ------------------------------------------------------------------------

def _one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Error: ") and lines[0].endswith("."), lines[0]
    return lines[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo", {"a.txt": "one\ntwo\n"})


def test_a_policy_file_with_a_yaml_syntax_error_is_one_line_with_its_place(
        tmp_path: Path, repo: Path, dead_host: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('rules:\n  - tool: "run_*\n    verdict: deny\n')  # an unclosed quote
    out = sage("run", "hi", "--workspace", str(repo),
               env={"SAGE_TOOL_POLICY": str(policy), "OLLAMA_HOST": dead_host})
    assert out.returncode == 2
    line = _one_error_line(out)
    assert f"{policy} is not valid YAML at line 4, column 1: " in line
    assert "found unexpected end of stream" in line


def test_a_policy_file_that_is_not_utf8_names_its_line(
        tmp_path: Path, repo: Path, dead_host: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes("default: ask\nrules:\n  - tool: café\n".encode("latin-1"))
    out = sage("run", "hi", "--workspace", str(repo),
               env={"SAGE_TOOL_POLICY": str(policy), "OLLAMA_HOST": dead_host})
    assert out.returncode == 2
    line = _one_error_line(out)
    assert f"{policy}, line 3 is not UTF-8 text (byte 0xe9); save the file as UTF-8." in line
    assert "unexpected" not in line


@pytest.mark.parametrize("hunks", ["²", "1,²", "٣", "0", "x"])
def test_hunks_that_are_not_positions_are_a_usage_error(
        tmp_path: Path, repo: Path, hunks: str) -> None:
    patch = tmp_path / "one.diff"
    patch.write_text("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n")
    out = sage("apply", str(patch), "--hunks", hunks, "--workspace", str(repo))
    assert out.returncode == 2
    assert "--hunks takes positions from 1 to 1" in _one_error_line(out)
    assert (repo / "a.txt").read_text() == "one\ntwo\n"


def test_setup_suggest_without_a_models_file_does_not_claim_one(
        tmp_path: Path, sage_home: Path) -> None:
    # A machine whose plan is the shipped models: 24 GB of RAM, no GPU.
    machine = tmp_path / "machine.json"
    machine.write_text('{"ram_gb": 23.5, "cpu_cores": 2, "disk_free_gb": 76.5}')
    out = sage("setup", "suggest", "--hardware", str(machine))
    assert out.returncode == 0, out.stderr
    assert "already has" not in out.stdout
    assert "There is no " in out.stdout and "nothing to change" in out.stdout
    assert not (sage_home / "config" / "models.yaml").exists()


@pytest.mark.parametrize("action", ["suggest", "apply"])
def test_setup_subcommand_help_is_its_own(action: str) -> None:
    out = sage("setup", action, "--help")
    assert out.returncode == 0
    assert out.stdout.startswith(f"Usage: sage setup {action} [OPTIONS]")
