"""The workspace boundary, tried as an attacker would: a cloned repository with planted files,
a hostile diff, a racing symlink. Each asserts on the world: the files outside, the tree."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.patch.model import PatchError, parse_patch
from sage_tui.core.workspace.state import WorkspaceRefused, workspace_state
from sage_tui.core.workspace.workspace import Workspace
from sage_tui.factory import patch_engine
from sage_tui.paths import sage_paths
from tests.conftest import git_repo


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links as their target), hashed: the world to compare."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def sage(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """A victim folder outside the workspace, and a cloned repository beside it."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious\n")
    (victim / "id_rsa").write_text("-----BEGIN KEY-----\n")
    repo = git_repo(tmp_path / "repo", {"app.py": "x = 1\n", "sub/b.txt": "b\n",
                                        "README.md": "# repo\n"})
    return repo, victim


def commit(repo: Path, message: str = "planted") -> None:
    subprocess.run(["git", "-C", str(repo), "add", "-Af"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@b.invalid",
                    "commit", "-qm", message], check=True)


def test_a_committed_sage_journal_cannot_delete_or_move_files_outside(
        world: tuple[Path, Path]) -> None:
    repo, victim = world
    planted = {"undo_id": "x", "entries": [
        {"path": "../victim/precious.txt", "staged": None, "delete": True},
        {"path": "stolen_key", "staged": str(victim / "id_rsa"), "delete": False}]}
    (repo / ".sage").mkdir()
    (repo / ".sage" / "apply-journal.json").write_text(json.dumps(planted))
    (repo / ".sage" / "journal.json").write_text(json.dumps(planted))
    commit(repo)
    before = tree(victim)
    for args in (("apply", "--check", "-"), ("undo", "--check"), ("undo",)):
        out = sage(*args, "--workspace", str(repo), cwd=repo)
        assert out.returncode == 2, (args, out.stderr)
        assert "tracked by git" in out.stderr and "git rm -r --cached .sage" in out.stderr
        assert out.stderr.count("\n") == 1  # one sentence
    with pytest.raises(WorkspaceRefused):
        patch_engine(repo)  # what `sage`, `sage run` and the workbench build
    assert tree(victim) == before
    assert not (repo / "stolen_key").exists()


def test_an_untracked_planted_journal_is_never_replayed(world: tuple[Path, Path]) -> None:
    repo, victim = world
    (repo / ".sage").mkdir()
    (repo / ".sage" / "apply-journal.json").write_text(json.dumps({"undo_id": "x", "entries": [
        {"path": "../victim/precious.txt", "staged": None, "delete": True}]}))
    before = tree(victim)
    engine = patch_engine(repo)
    assert engine.recover() is False
    assert engine.apply(parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")).ok
    assert tree(victim) == before


@pytest.mark.parametrize("plant", ["sage_is_link", "staging_is_link", "audit_is_link",
                                   "last_apply_is_link"])
def test_symlinked_sage_pieces_are_refused_and_nothing_outside_changes(
        world: tuple[Path, Path], plant: str) -> None:
    repo, victim = world
    sage_dir = repo / ".sage"
    if plant == "sage_is_link":
        sage_dir.symlink_to(victim, target_is_directory=True)
    else:
        sage_dir.mkdir()
        name = {"staging_is_link": "staging", "audit_is_link": "audit.jsonl",
                "last_apply_is_link": "last_apply"}[plant]
        (sage_dir / name).symlink_to(victim / ("" if name == "staging" else "precious.txt"))
    before = tree(victim)
    with pytest.raises(WorkspaceRefused, match="symbolic link"):
        patch_engine(repo)
    out = sage("apply", "-", "--workspace", str(repo), cwd=repo)
    assert out.returncode == 2 and "symbolic link" in out.stderr
    assert tree(victim) == before


@pytest.mark.parametrize("target", [".sage/audit.jsonl", ".sage/last_apply", ".sage/memory.json",
                                    ".SAGE/journal.json", "sub/../.sage/x", ".git/hooks/pre-commit",
                                    "./.Git/config"])
def test_a_patch_can_never_write_sages_or_gits_own_files(world: tuple[Path, Path],
                                                         target: str) -> None:
    repo, _ = world
    diff = f"--- /dev/null\n+++ b/{target}\n@@ -0,0 +1 @@\n+forged\n"
    with pytest.raises(PatchError, match=r"\.sage|\.git|climbs out"):
        parse_patch(diff)
    state = workspace_state(sage_paths().state, repo)
    before = tree(state), tree(repo)
    out = subprocess.run([sys.executable, "-m", "sage_tui", "apply", "-", "--workspace",
                          str(repo)], input=diff, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and out.stderr.count("\n") == 1
    assert (tree(state), tree(repo)) == before


def test_sages_trusted_state_lives_outside_the_repository(world: tuple[Path, Path]) -> None:
    repo, _ = world
    engine = patch_engine(repo)
    assert engine.apply(parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")).ok
    state = workspace_state(sage_paths().state, repo)
    assert (state / "audit.jsonl").exists() and (state / "undo" / "stack.json").exists()
    assert sorted(p.name for p in (repo / ".sage").iterdir()) in ([], ["staging"])
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                            text=True).stdout
    assert ".sage" not in status


def test_a_folder_flipped_to_a_symlink_during_applies_never_sends_a_write_outside(
        world: tuple[Path, Path]) -> None:
    repo, victim = world
    (repo / "sub" / "b.txt").unlink()
    outside = victim / "decoy"
    outside.mkdir()
    engine = patch_engine(repo)
    before = tree(victim)
    stop = threading.Event()
    flips = 0

    def flip() -> None:  # a process the agent started, swapping the folder for a link
        nonlocal flips
        real, parked = repo / "sub", repo / "sub.parked"
        while not stop.is_set():
            try:
                real.rename(parked)
                real.symlink_to(outside, target_is_directory=True)
                real.unlink()
                parked.rename(real)
                flips += 1
            except OSError:
                continue

    racer = threading.Thread(target=flip)
    racer.start()
    applied = 0
    try:
        for attempt in range(300):
            diff = (f"--- /dev/null\n+++ b/sub/n{attempt}.txt\n@@ -0,0 +1 @@\n+written {attempt}\n")
            result = engine.apply(parse_patch(diff))
            applied += result.ok
    finally:
        stop.set()
        racer.join()
    assert flips > 50, flips  # the race really ran
    assert tree(victim) == before  # nothing ever landed outside
    assert applied > 0  # and applies still work between the flips
    # What landed is in the workspace (in `sub`, or the folder the racer parked; the racer can
    # also drop a folder SAGE just made, which takes its file with it, but never outside).
    landed = [p for p in repo.rglob("n*.txt") if p.read_text().startswith("written")]
    assert 0 < len(landed) <= applied


def test_a_patch_to_a_symlink_inside_is_refused_and_the_link_kept(
        world: tuple[Path, Path]) -> None:
    repo, _ = world
    (repo / "link.py").symlink_to("app.py")
    result = patch_engine(repo).apply(parse_patch(
        "--- a/link.py\n+++ b/link.py\n@@ -1 +1 @@\n-x = 1\n+x = 3\n"))
    assert not result.ok and "symbolic link" in result.reason
    assert (repo / "link.py").is_symlink() and (repo / "app.py").read_text() == "x = 1\n"


def test_one_file_named_two_ways_is_refused_before_anything_is_staged(
        world: tuple[Path, Path]) -> None:
    repo, _ = world
    before = tree(repo)
    diff = ("--- a/sub/b.txt\n+++ b/sub/b.txt\n@@ -1 +1 @@\n-b\n+B\n"
            "--- a/sub//b.txt\n+++ b/sub//b.txt\n@@ -1 +1 @@\n-b\n+C\n")
    out = subprocess.run([sys.executable, "-m", "sage_tui", "apply", "-", "--workspace",
                          str(repo)], input=diff, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "sub/b.txt twice" in out.stderr
    assert "unexpected" not in out.stderr
    assert tree(repo) == before


def make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:  # root writes through permissions; the immutable flag stops it
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)


def make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_folder_that_cannot_be_written_fails_in_one_sentence_and_leaves_no_journal(
        world: tuple[Path, Path]) -> None:
    repo, _ = world
    engine = patch_engine(repo)
    before = tree(repo)
    make_read_only(repo / "sub")
    try:
        result = engine.apply(parse_patch(
            "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
            "--- a/sub/b.txt\n+++ b/sub/b.txt\n@@ -1 +1 @@\n-b\n+B\n"))
        checked = engine.check(parse_patch("--- a/sub/b.txt\n+++ b/sub/b.txt\n@@ -1 +1 @@\n-b\n+B\n"))
    finally:
        make_writable(repo / "sub")
    assert not result.ok and "Cannot write in sub" in result.reason
    assert checked.ok  # checking writes nothing, so it works on a read-only folder
    assert tree(repo) == before and not engine.journal.exists()
    assert engine.recover() is False  # nothing left for a later command to finish silently


@pytest.mark.parametrize("kind", ["bare", "git_dir"])
def test_a_bare_repository_or_a_git_folder_is_not_a_workspace(tmp_path: Path, kind: str) -> None:
    if kind == "bare":
        folder = tmp_path / "bare.git"
        subprocess.run(["git", "init", "-q", "--bare", str(folder)], check=True)
    else:
        folder = git_repo(tmp_path / "repo", {"a.txt": "a\n"}) / ".git"
    before = tree(folder)
    with pytest.raises(WorkspaceRefused, match="bare repository"):
        PatchEngine(Workspace([folder]), tmp_path / "state")
    diff = "--- /dev/null\n+++ b/hooks/pre-commit\n@@ -0,0 +1 @@\n+#!/bin/sh\n"
    out = subprocess.run([sys.executable, "-m", "sage_tui", "apply", "-", "--workspace",
                          str(folder)], input=diff, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not a working tree" in out.stderr
    assert tree(folder) == before


def test_a_read_only_workspace_can_still_be_checked(world: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    repo, _ = world
    patch_file = tmp_path / "p.diff"
    patch_file.write_text("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    make_read_only(repo)
    try:
        checked = sage("apply", str(patch_file), "--check", "--workspace", str(repo), cwd=tmp_path)
        applied = sage("apply", str(patch_file), "--workspace", str(repo), cwd=tmp_path)
    finally:
        make_writable(repo)
    assert checked.returncode == 0, checked.stderr
    assert applied.returncode in (1, 2) and "unexpected" not in applied.stderr
    assert applied.stderr.count("\n") == 1, applied.stderr
    assert (repo / "app.py").read_text() == "x = 1\n"
    shutil.rmtree(repo / ".sage", ignore_errors=True)
