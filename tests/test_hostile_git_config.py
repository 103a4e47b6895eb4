"""A repository whose `.git/config` names programs (an unpacked tarball, a shared folder): the
git commands SAGE runs on its own (the Git expert's status, log and diff, the file list, a
commit) never run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.core.workspace.gitcmd import GitRefused, git_argv
from tests.conftest import git_repo
from tests.test_run_cli import Start

REVIEW = {"rules": [
    {"when": {"role": "router"}, "reply": {"json": {
        "kind": "review", "reasoningText": "asks for a review", "experts": ["git"]}}},
    {"when": {"role": "reviewer"}, "reply": "Looks fine."},
    {"when": {"role": "summarizer"}, "reply": {"json": {"project_facts": [],
                                                        "user_preferences": []}}},
]}


def hostile(tmp_path: Path) -> tuple[Path, Path]:
    repo = git_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    marker = tmp_path / "ran"
    run = f"sh -c 'touch {marker}-$0; cat'"
    (repo / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    for key, value in (("filter.evil.clean", run.replace("$0", "clean")),
                       ("filter.evil.process", run.replace("$0", "process")),
                       ("diff.evil.textconv", run.replace("$0", "textconv")),
                       ("diff.external", run.replace("$0", "external")),
                       ("gpg.program", run.replace("$0", "gpg")),
                       ("log.showSignature", "true")):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    (repo / "app.py").write_text("x = 2\n")  # a change for status and diff to look at
    return repo, marker


def test_the_git_expert_runs_no_program_the_repository_names(tmp_path: Path,
                                                             fake_ollama: Start) -> None:
    repo, _ = hostile(tmp_path)
    server = fake_ollama(REVIEW)
    out = subprocess.run([sys.executable, "-m", "sage_tui", "run", "review my changes",
                          "--mode", "silent", "--workspace", str(repo)], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL,
                         env={**os.environ, "OLLAMA_HOST": server.host})
    assert out.returncode == 0, out.stderr
    [reviewer] = server.chat_requests("reviewer")
    assert "+x = 2" in str(reviewer.body["messages"])  # the diff was read, as it is
    assert not list(tmp_path.glob("ran-*"))


def test_a_filter_that_cannot_be_switched_off_stops_git_with_a_sentence(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    subprocess.run(["git", "-C", str(repo), "config", "filter.a=b.clean", "touch x"], check=True)
    with pytest.raises(GitRefused, match="names a filter SAGE cannot switch off"):
        git_argv("status", workspace=repo)
