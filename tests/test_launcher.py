"""The console script's click-free paths run the same functions with the same values as click.

`sage`, `sage demo` and the read-only checks (`sage apply PATCHFILE --check`, `sage undo
--check`, `sage redo --check`) in their plain forms start without importing click
(launcher.py). These tests hold that shortcut to click's own parsing, output and exit codes;
the speed is measured in bench/cli.py and bench/ui.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from sage_tui import launcher
from sage_tui.cli import cli
from sage_tui.commands import output
from tests.conftest import git_repo

ROOT = Path(__file__).resolve().parent.parent
PATCH = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -5,1 +5,1 @@\n-e\n+E\n"


def _click_params(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The command click resolves `argv` to, and the values it would call it with."""
    root = cli.make_context("sage", list(argv))
    # click 8.2 keeps the command's name in `_protected_args`; the lowest click we allow,
    # in `protected_args` (deprecated since)
    protected = (root._protected_args if hasattr(root, "_protected_args")
                 else root.protected_args)
    name, command, rest = cli.resolve_command(root, [*protected, *root.args])
    assert name is not None and command is not None
    return name, dict(command.make_context(name, rest, parent=root).params)


@pytest.mark.parametrize("argv", [
    ["apply", "p.diff", "--check"],
    ["apply", "--check", "p.diff"],
    ["apply", "-", "--check", "--json"],
    ["apply", "--json", "--hunks", "1,3", "--check", "p.diff", "-w", "somewhere"],
    ["apply", "p.diff", "--workspace", "somewhere", "--check"],
    ["undo", "--check"],
    ["undo", "--json", "--check", "-w", "somewhere"],
    ["redo", "--check", "--workspace", "somewhere"],
])
def test_the_plain_checks_get_exactly_what_click_would_give(argv: list[str]) -> None:
    assert launcher.read_only_params(argv) == _click_params(argv)


@pytest.mark.parametrize("argv", [
    ["apply", "p.diff"],  # changes files: a session, through click
    ["undo"],
    ["apply", "--check"],  # no patch: click's usage error
    ["apply", "a.diff", "b.diff", "--check"],
    ["apply", "p.diff", "--check", "--check"],
    ["apply", "p.diff", "--check", "--hunks=1"],
    ["apply", "p.diff", "--check", "--hunks"],
    ["apply", "p.diff", "--check", "--hunks", ""],
    ["apply", "p.diff", "--check", "-h"],
    ["apply", "p.diff", "--check", "--", "x"],
    ["undo", "--check", "--hunks", "1"],
    ["undo", "--check", "extra"],
    ["-q", "apply", "p.diff", "--check"],
    ["apply", "p.diff", "--check", "-w", str(Path(__file__))],  # a file: click says so
    ["trace", "--check"],
])
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert launcher.read_only_params(argv) is None


def test_the_shortcut_knows_every_parameter_click_declares() -> None:
    # An option added to `sage apply` must be taught to the shortcut (or it would be
    # called without it); one it does not know sends the command line to click.
    for name, (known, positional) in launcher.CHECKS.items():
        params = cli.commands[name].params
        assert {p.name for p in params} == set(known) | set(positional), name
        for param in params:
            if isinstance(param, click.Option):
                declared = set(param.opts)
                taught = {o for o, n in {**launcher._FLAGS, **launcher._VALUED}.items()
                          if n == param.name}
                assert declared == taught, (name, param.name)


@pytest.mark.parametrize("fg,bold", [(None, False), ("green", False), ("yellow", False),
                                     ("red", False), (None, True), ("yellow", True)])
def test_styles_are_clicks_own(fg: str | None, bold: bool) -> None:
    assert output.style("ok", fg, bold) == click.style("ok", fg=fg, bold=bold or None)


def _sage(argv: list[str], cwd: Path, home: Path, **env: str) -> tuple[int, str, str, bool]:
    """Exit code, stdout, stderr of `sage ARGV`, and whether click was ever imported."""
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write('\\nCLICK=%s' % ('click' in sys.modules)))\n"
             "from sage_tui.launcher import main\n"
             f"main({argv!r})\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "SAGE_HOME": str(home), **env}
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                         env=environ, stdin=subprocess.DEVNULL, timeout=60)
    stderr, _, loaded = out.stderr.rpartition("\nCLICK=")
    return out.returncode, out.stdout, stderr, loaded == "True"


@pytest.mark.parametrize("tail", [[], ["--json"], ["--hunks", "2"], ["--hunks", "7"],
                                  ["--hunks", "²"]])
@pytest.mark.parametrize("patch", ["good", "stale", "missing"])
def test_a_check_says_the_same_with_or_without_click(tmp_path: Path, patch: str,
                                                     tail: list[str]) -> None:
    repo = git_repo(tmp_path / "repo", {"f.txt": "a\nb\nc\nd\ne\n"})
    if patch == "stale":
        (repo / "f.txt").write_text("a\nX\nc\nd\ne\n")
    if patch != "missing":
        (tmp_path / "p.diff").write_text(PATCH)
    fast = ["apply", str(tmp_path / "p.diff"), "--check", "-w", str(repo), *tail]
    slow = ["apply", str(tmp_path / "p.diff"), "--check", f"--workspace={repo}", *tail]
    assert launcher.read_only_params(fast) is not None and launcher.read_only_params(slow) is None
    *said_fast, click_fast = _sage(fast, tmp_path, tmp_path / "home")
    *said_slow, click_slow = _sage(slow, tmp_path, tmp_path / "home")
    assert said_fast == said_slow
    assert not click_fast and click_slow  # the probe sees click when it is loaded
    if "--json" in tail:
        assert json.loads(said_fast[1])["schema"] == 1
    assert "unexpected" not in said_fast[2]


@pytest.mark.parametrize("command", ["undo", "redo"])
def test_undo_and_redo_checks_say_the_same_with_or_without_click(tmp_path: Path,
                                                                 command: str) -> None:
    repo = git_repo(tmp_path / "repo", {"f.txt": "a\nb\nc\nd\ne\n"})
    (tmp_path / "p.diff").write_text(PATCH)
    home = tmp_path / "home"
    applied = _sage(["apply", str(tmp_path / "p.diff")], repo, home)
    assert applied[0] == 0, applied
    if command == "redo":
        assert _sage(["undo"], repo, home)[0] == 0
    for tail in ([], ["--json"]):
        fast = _sage([command, "--check", "-w", str(repo), *tail], tmp_path, home)
        slow = _sage([command, "--check", f"--workspace={repo}", *tail], tmp_path, home)
        assert fast[:3] == slow[:3] and fast[0] == 0
        assert not fast[3] and slow[3]
    nothing = _sage([command, "--check"], git_repo(tmp_path / "other"), home)
    assert nothing[0] != 0 and nothing[2].startswith("Error: ") and not nothing[3]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, EOFError])
def test_ctrl_c_while_the_workbench_starts_ends_as_click_ends_it(
        interruption: type[BaseException], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sage_tui.commands import ui

    def starting(keep: bool) -> int:
        raise interruption

    monkeypatch.setattr(ui, "run_demo", starting)
    said = []
    for argv in (["demo"], ["--no-color", "demo"]):  # without click, then through it
        with pytest.raises(SystemExit) as ended:
            launcher.main(argv)
        said.append((ended.value.code, *capsys.readouterr()))
    assert said[0] == said[1] == (130, "", "\nAborted.\n")


def _run(argv: list[str], cwd: Path, home: Path, *, env: dict[str, str] | None = None,
         close_stdout: bool = False) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "SAGE_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "sage_tui", *argv], cwd=cwd, env=environ,
                          capture_output=not close_stdout, stdin=subprocess.DEVNULL,
                          timeout=60,
                          preexec_fn=(lambda: os.close(1)) if close_stdout else None)


@pytest.mark.parametrize("spelling", ["-w", "--workspace="])
def test_a_check_whose_output_goes_nowhere_or_cannot_be_encoded_still_answers(
        tmp_path: Path, spelling: str) -> None:
    # Both paths (without click, and through it): stdout closed; an ASCII stdout and a
    # file name that is not ASCII; a strict UTF-8 stdout and a patch naming a file with a
    # byte that is not UTF-8 (the patch is untrusted text). Never "unexpected".
    repo = git_repo(tmp_path / "repo", {"é.txt": "a\n", "f.txt": "a\nb\nc\nd\ne\n"})
    (tmp_path / "accent.diff").write_text("--- a/é.txt\n+++ b/é.txt\n@@ -1 +1 @@\n-a\n+b\n")
    (tmp_path / "bytes.diff").write_bytes(b"--- a/q\xff.txt\n+++ b/q\xff.txt\n@@ -1 +1 @@\n"
                                          b"-a\n+b\n")
    where = ["-w", str(repo)] if spelling == "-w" else [f"--workspace={repo}"]
    home = tmp_path / "home"
    closed = _run(["apply", str(tmp_path / "accent.diff"), "--check", *where], tmp_path, home,
                  close_stdout=True)
    assert closed.returncode == 0
    ascii_out = _run(["apply", str(tmp_path / "accent.diff"), "--check", *where], tmp_path,
                     home, env={"PYTHONIOENCODING": "ascii"})
    assert ascii_out.returncode == 0, ascii_out.stderr
    assert "é.txt".encode() in ascii_out.stdout
    for tail in ([], ["--json"]):
        odd = _run(["apply", str(tmp_path / "bytes.diff"), "--check", *where, *tail], tmp_path,
                   home, env={"PYTHONIOENCODING": "utf-8"})
        assert b"unexpected" not in odd.stderr and odd.returncode == 1, odd.stderr
        assert b"q\\udcff.txt" in odd.stdout + odd.stderr
        if tail:
            assert json.loads(odd.stdout)["ok"] is False


def test_a_reader_that_goes_away_ends_the_check_as_click_ends_it(tmp_path: Path) -> None:
    lines = "".join(f"line {i}\n" for i in range(4000))
    repo = git_repo(tmp_path / "repo", {"big.txt": lines})
    hunks = "".join(f"@@ -{i * 4 + 1} +{i * 4 + 1} @@\n-line {i * 4}\n+LINE {i * 4}\n"
                    for i in range(1000))
    (tmp_path / "many.diff").write_text(f"--- a/big.txt\n+++ b/big.txt\n{hunks}")
    codes = []
    for where in (["-w", str(repo)], [f"--workspace={repo}"]):
        environ = {**os.environ, "PYTHONPATH": str(ROOT), "SAGE_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen([sys.executable, "-m", "sage_tui", "apply",
                                 str(tmp_path / "many.diff"), "--check", *where],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read(1)  # `| head -c1`: one byte, then the reader is gone
        proc.stdout.close()
        stderr = proc.stderr.read()
        codes.append(proc.wait(timeout=60))
        assert b"unexpected" not in stderr and b"Traceback" not in stderr, stderr
    assert codes == [1, 1]


def test_hunks_given_twice_or_as_a_huge_number_get_one_sentence(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"f.txt": "a\nb\nc\nd\ne\n"})
    (tmp_path / "p.diff").write_text(PATCH)
    home = tmp_path / "home"
    twice = _run(["apply", str(tmp_path / "p.diff"), "--check", "-w", str(repo),
                  "--hunks", "2,1,2"], tmp_path, home)
    assert twice.returncode == 0 and b"2 hunk(s) would apply" in twice.stdout
    huge = _run(["apply", str(tmp_path / "p.diff"), "--check", "-w", str(repo),
                 "--hunks", "9" * 5000], tmp_path, home)
    assert huge.returncode == 2 and huge.stderr.startswith(b"Error: --hunks takes positions")
    assert len(huge.stderr) < 200


def test_a_machine_that_cannot_serve_the_command_gets_one_sentence(tmp_path: Path) -> None:
    # SAGE_HOME is a file; the current folder was deleted under the shell; the patch was to
    # come down a pipe that is closed. Each was "unexpected …".
    repo = git_repo(tmp_path / "repo", {"f.txt": "a\nb\nc\nd\ne\n"})
    (tmp_path / "p.diff").write_text(PATCH)
    (tmp_path / "home-file").write_text("not a folder\n")
    home_is_a_file = _run(["apply", str(tmp_path / "p.diff"), "--check", "-w", str(repo)],
                          tmp_path, tmp_path / "home-file")
    assert home_is_a_file.returncode == 1
    assert home_is_a_file.stderr.decode().endswith("cannot be used: not a directory.\n")
    gone = tmp_path / "gone"
    gone.mkdir()
    code = ("import os, sys\nos.chdir(sys.argv[1]); os.rmdir(sys.argv[1])\n"
            "from sage_tui.launcher import main\nmain(['undo', '--check'])\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "SAGE_HOME": str(tmp_path / "home")}
    deleted = subprocess.run([sys.executable, "-c", code, str(gone)], capture_output=True,
                             text=True, env=environ, timeout=60, cwd=tmp_path)
    assert deleted.returncode == 2
    assert deleted.stderr == "Error: the current folder no longer exists; cd into one that does.\n"
    closed = subprocess.run([sys.executable, "-m", "sage_tui", "apply", "-", "--check", "-w",
                             str(repo)], capture_output=True, text=True, env=environ,
                            timeout=60, preexec_fn=lambda: os.close(0))
    assert closed.returncode == 2 and closed.stderr.startswith("Error: standard input is closed")
