"""Read-only commands leave nothing behind and start fast; a failed command leaves a closed
session (docs/cli.md). Speed itself is measured in bench/cli.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.core.patch import engine as engine_module
from sage_tui.core.patch.model import parse_patch
from sage_tui.factory import patch_engine
from tests.conftest import git_repo

ROOT = Path(__file__).resolve().parent.parent
FILES = {"a.txt": "one\ntwo\n", "b.txt": "alpha\nbeta\n"}
DIFF = ("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"
        "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+BETA\n")

# What `sage apply --check` must not wait for: the UI, the model clients, the session log and
# its composition root, the redactor's rules, the agent, YAML, the config file's parser.
NOT_FOR_A_CHECK = (
    "textual", "rich", "ollama", "httpx", "yaml", "ruamel", "tomllib", "asyncio",
    "sage_tui.factory", "sage_tui.config", "sage_tui.core.agent", "sage_tui.core.llm",
    "sage_tui.core.log.sessionlog", "sage_tui.core.log.redaction",
    "sage_tui.core.log.secretrules", "sage_tui.core.log.recorder",
)


def sage(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)


def sessions(cwd: Path) -> list[dict[str, object]]:
    """What `sage trace --json` lists, as the user would look."""
    out = sage("trace", "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    listed: list[dict[str, object]] = json.loads(out.stdout)["sessions"]
    return listed


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = git_repo(tmp_path / "repo", FILES)
    (tmp_path / "change.diff").write_text(DIFF)
    return root


def test_checks_record_no_session(repo: Path) -> None:
    patch = str(repo.parent / "change.diff")
    assert sage("apply", patch, "--check", cwd=repo).returncode == 0
    assert sage("undo", "--check", cwd=repo).returncode == 1  # nothing to undo yet
    assert sessions(repo) == []
    assert sage("apply", patch, cwd=repo).returncode == 0
    assert [s["command"] for s in sessions(repo)] == ["apply"]
    assert sage("undo", "--check", cwd=repo).returncode == 0
    assert sage("undo", cwd=repo).returncode == 0
    assert sage("redo", "--check", cwd=repo).returncode == 0
    assert sage("apply", patch, "--check", cwd=repo).returncode == 0
    assert sorted(str(s["command"]) for s in sessions(repo)) == ["apply", "undo"]


def test_a_failed_command_leaves_a_closed_session(repo: Path) -> None:
    stale = repo.parent / "stale.diff"
    stale.write_text("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-zwei\n+TWO\n")
    assert sage("undo", cwd=repo).returncode == 1  # nothing to undo
    assert [s["status"] for s in sessions(repo)] == ["error"]
    assert sage("apply", str(stale), cwd=repo).returncode == 1  # does not apply
    statuses = {str(s["command"]): s["status"] for s in sessions(repo)}
    assert statuses == {"undo": "error", "apply": "failed"}


def test_a_check_does_no_recovery_and_says_one_awaits(repo: Path) -> None:
    engine = patch_engine(repo)

    class Crash(BaseException):
        """The process dying after its renames, before the undo records."""

    def finish(*args: object) -> None:
        raise Crash()

    with pytest.MonkeyPatch.context() as patched, pytest.raises(Crash):
        patched.setattr(engine_module.PatchEngine, "_finish", finish)
        engine.apply(parse_patch(DIFF))
    assert engine.journal.exists()
    before, state = tree(repo), tree(engine.state)  # the journal, undo records, audit
    for check in (("apply", str(repo.parent / "change.diff"), "--check"), ("undo", "--check"),
                  ("redo", "--check")):
        out = sage(*check, cwd=repo)
        assert "an interrupted patch operation awaits recovery" in out.stderr, out.stderr
        assert len(out.stderr.splitlines()) <= 2  # that sentence, and the check's own error
    assert engine.journal.exists() and tree(repo) == before  # nothing was finished
    assert tree(engine.state) == state
    assert sessions(repo) == []
    undone = sage("undo", cwd=repo)  # a command that changes files recovers first
    assert undone.returncode == 0 and "Finished an interrupted apply" in undone.stderr
    assert not engine.journal.exists()
    assert (repo / "a.txt").read_text() == FILES["a.txt"]


def test_a_check_loads_only_the_patch_engine(repo: Path, sage_home: Path) -> None:
    probe = (
        "import json, sys\nfrom sage_tui import cli, launcher\n"
        "try:\n"
        f"    launcher.main(['apply', {str(repo.parent / 'change.diff')!r}, '--check'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {"SAGE_HOME": str(sage_home), "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, cwd=repo, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "sage_tui.core.patch.engine" in loaded  # the probe sees what the check used
    assert sorted(m for m in loaded if m.split(".")[0] in NOT_FOR_A_CHECK
                  or m.startswith(tuple(p + "." for p in NOT_FOR_A_CHECK))
                  or m in NOT_FOR_A_CHECK) == []
