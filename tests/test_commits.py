"""Commits SAGE makes, attacked: a file swapped for a link, no identity, an empty change."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sage_tui.core.workspace.commits import CommitError, commit_files, with_trailer
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def test_a_file_swapped_for_a_link_is_not_followed_into_the_commit(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    secret = tmp_path / "secret.txt"
    secret.write_text("the key\n")
    (root / "a.py").unlink()
    (root / "a.py").symlink_to(secret)  # raced in between the apply and the commit
    head = git(root, "rev-parse", "HEAD")
    with pytest.raises(CommitError, match=r"a\.py cannot be committed"):
        commit_files(Workspace([root]), ["a.py"], "m")
    assert git(root, "rev-parse", "HEAD") == head
    assert "the key" not in git(root, "log", "-p", "--all")


def test_without_an_identity_the_sentence_says_how_to_set_one(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    root = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (root / "a.py").write_text("x = 2\n")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(root, "config", "user.useConfigOnly", "true")
    with pytest.raises(CommitError, match="git does not know who you are"):
        commit_files(Workspace([root]), ["a.py"], with_trailer("m", "s-1", "m:7b"))


def test_nothing_changed_is_nothing_to_commit(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    with pytest.raises(CommitError, match="nothing to commit"):
        commit_files(Workspace([root]), ["a.py"], "m")
    with pytest.raises(CommitError, match="applied nothing"):
        commit_files(Workspace([root]), [], "m")


def test_a_deleted_file_and_an_executable_one_commit_as_they_are(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"a.py": "x = 1\n", "run.sh": "echo\n"})
    (root / "a.py").unlink()
    (root / "run.sh").write_text("echo hi\n")
    os.chmod(root / "run.sh", 0o755)
    made = commit_files(Workspace([root]), ["a.py", "run.sh"],
                        with_trailer("Tidy up", "20261202-1", "m:7b"))
    assert git(root, "ls-tree", "HEAD").split("\n")[0].startswith("100755")
    assert "a.py" not in git(root, "ls-tree", "--name-only", "HEAD")
    assert made.message.endswith("Sage-Session: 20261202-1\n")
    assert git(root, "status", "--short").strip() == ""


def test_the_identity_in_the_persons_environment_signs_the_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = git_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (root / "a.py").write_text("x = 2\n")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.invalid")
    commit_files(Workspace([root]), ["a.py"], "m")
    assert git(root, "log", "-1", "--format=%an <%ae> / %cn").strip() == (
        "Ada Lovelace <ada@example.invalid> / Ada Lovelace")
