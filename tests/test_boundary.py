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
                          text=True, errors="replace", timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)


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
    applied = attempt = 0
    try:  # at least 300 applies, and on until the racer has really raced (a loaded machine
        # gives its thread fewer turns): the count of flips decides, not the clock
        while attempt < 300 or (flips <= 50 and attempt < 5000):
            diff = (f"--- /dev/null\n+++ b/sub/n{attempt}.txt\n@@ -0,0 +1 @@\n+written {attempt}\n")
            result = engine.apply(parse_patch(diff))
            applied += result.ok
            attempt += 1
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


def test_a_patch_cannot_make_gits_scratch_apply_run_a_command(world: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    repo, _ = world
    marker = tmp_path / "PWNED"
    planted = {  # a fake git folder and attributes, as files of the repository
        ".no-git/HEAD": "ref: refs/heads/main\n",
        ".no-git/config": ("[core]\n\trepositoryformatversion = 0\n[filter \"x\"]\n"
                           f"\tclean = \"sh -c 'id > {marker}'; cat\"\n"
                           f"\tsmudge = \"sh -c 'id > {marker}'; cat\"\n"),
        "no-git/config": f"[filter \"x\"]\n\tclean = \"sh -c 'id > {marker}'; cat\"\n",
        ".no-git/objects/k": "k\n",  # a patched file is copied: these make the folders real
        ".no-git/refs/k": "k\n",
        ".gitattributes": "* filter=x\n",
        "tree/.gitattributes": "* filter=x\n",
    }
    for name, text in planted.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    commit(repo)
    diff = "".join(f"--- a/{name}\n+++ b/{name}\n@@ -1 +1 @@\n-{text.splitlines()[0]}\n"
                   f"+{text.splitlines()[0]} \n" for name, text in planted.items())
    diff += "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    patch_file = tmp_path / "evil.diff"
    patch_file.write_text(diff)
    env_home = {"HOME": str(tmp_path)}
    (tmp_path / ".gitconfig").write_text("[core]\n\tautocrlf = true\n")  # the user's own setting
    for args in (("apply", str(patch_file), "--check"), ("apply", str(patch_file))):
        out = subprocess.run([sys.executable, "-m", "sage_tui", *args, "--workspace", str(repo)],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, **env_home, "GIT_DIR": str(repo / ".no-git")})
        assert out.returncode == 0, out.stderr
    assert not marker.exists()  # no filter, hook or fsmonitor ran
    assert (repo / "app.py").read_bytes() == b"x = 2\n"  # autocrlf did not touch the bytes


def test_recovery_keeps_an_edit_made_after_the_crash(world: tuple[Path, Path]) -> None:
    from sage_tui.core.patch import engine as engine_module

    repo, _ = world
    engine = patch_engine(repo)
    patch = parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
                        "--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# repo\n")

    class Crash(BaseException):
        pass

    def finish(*args: object) -> None:
        raise Crash()

    real_rename = os.rename
    renamed = []

    def rename(src: str, dst: str, **kw: int) -> None:
        if renamed:
            raise Crash()  # dies after the first file
        renamed.append(dst)
        real_rename(src, dst, **kw)

    with pytest.MonkeyPatch.context() as patched, pytest.raises(Crash):
        patched.setattr(os, "rename", rename)
        patched.setattr(engine_module.PatchEngine, "_finish", finish)
        engine.apply(patch)
    (repo / "README.md").write_text("# my edit after the crash\n")  # the person keeps working
    again = patch_engine(repo)
    assert "kept your later edits to README.md" in again.recovery_note()
    assert (repo / "README.md").read_text() == "# my edit after the crash\n"
    assert (repo / "app.py").read_text() == "x = 2\n"


def test_a_file_saved_while_the_patch_is_applied_is_not_overwritten(
        world: tuple[Path, Path]) -> None:
    from sage_tui.core.patch import engine as engine_module

    repo, _ = world
    engine = patch_engine(repo)
    real_scratch = engine_module.PatchEngine._scratch_apply

    def slow_git(self: PatchEngine, *args: object, **kw: object) -> object:
        result = real_scratch(self, *args, **kw)  # type: ignore[arg-type]
        (repo / "app.py").write_text("x = 1  # saved by the editor meanwhile\n")
        return result

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(engine_module.PatchEngine, "_scratch_apply", slow_git)
        result = engine.apply(parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n"
                                          "+x = 2\n"))
    assert not result.ok and "changed while the patch was being applied" in result.reason
    assert (repo / "app.py").read_text() == "x = 1  # saved by the editor meanwhile\n"


def test_two_applies_in_one_second_are_two_undo_records(world: tuple[Path, Path]) -> None:
    repo, _ = world
    engine = patch_engine(repo)
    one = parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    two = parse_patch("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 2\n+x = 1\n")
    for patch in (one, two, one):  # A, B, A again, within a second
        assert engine.apply(patch).ok
    for expected in ("x = 1\n", "x = 2\n", "x = 1\n"):
        engine.undo()
        assert (repo / "app.py").read_text() == expected


def test_a_change_across_file_systems_is_refused_before_anything_moves(
        world: tuple[Path, Path]) -> None:
    from sage_tui.core.patch import journal as journal_module

    repo, _ = world
    engine = patch_engine(repo)
    real_fstat = os.fstat
    sub = real_fstat(os.open(repo / "sub", os.O_RDONLY)).st_ino

    def fstat(fd: int) -> os.stat_result:  # `sub` is a mount of another file system
        info = real_fstat(fd)
        if info.st_ino != sub:
            return info
        fields = list(info)
        fields[2] = info.st_dev + 1
        return os.stat_result(fields)

    before = tree(repo)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(journal_module.os, "fstat", fstat)
        result = engine.apply(parse_patch(
            "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
            "--- a/sub/b.txt\n+++ b/sub/b.txt\n@@ -1 +1 @@\n-b\n+B\n"))
    assert not result.ok and "another file system" in result.reason
    assert tree(repo) == before and not engine.journal.exists()


def test_a_deep_planted_sage_is_refused_in_one_sentence(world: tuple[Path, Path]) -> None:
    repo, _ = world
    deep = repo / ".sage"
    for _ in range(40):
        deep = deep / "a"
    deep.mkdir(parents=True)
    out = sage("undo", "--check", "--workspace", str(repo), cwd=repo)
    assert out.returncode == 2 and "unexpected" not in out.stderr
    assert out.stderr.count("\n") == 1 and "remove it" in out.stderr


def test_sage_never_runs_the_repositorys_fsmonitor(world: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    repo, _ = world
    marker = tmp_path / "FSMONITOR-RAN"
    subprocess.run(["git", "-C", str(repo), "config", "core.fsmonitor",
                    f"sh -c 'touch {marker}'; true"], check=True)
    (repo / ".sage").mkdir()  # so the tracked-files check runs git too
    patch_file = tmp_path / "p.diff"
    patch_file.write_text("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    out = sage("apply", str(patch_file), "--workspace", str(repo), cwd=repo)
    assert out.returncode == 0, out.stderr
    assert not marker.exists()


def test_a_planted_gitdir_file_cannot_make_sage_write_outside(tmp_path: Path) -> None:
    sibling = git_repo(tmp_path / "sibling", {"s.txt": "s\n"})
    exclude = sibling / ".git" / "info" / "exclude"
    before = exclude.read_bytes() if exclude.exists() else b""
    repo = tmp_path / "repo"
    shutil.copytree(sibling, repo)
    shutil.rmtree(repo / ".git")
    (repo / ".git").write_text(f"gitdir: {sibling / '.git'}\n")  # the repository's own .git file
    engine = patch_engine(repo)
    assert engine.apply(parse_patch("--- a/s.txt\n+++ b/s.txt\n@@ -1 +1 @@\n-s\n+t\n")).ok
    assert (exclude.read_bytes() if exclude.exists() else b"") == before


def test_a_git_diff_of_crlf_latin1_quoted_names_and_a_mode_change_applies_and_undoes(
        tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "enc", {"x": "x\n"})
    originals = {"crlf.txt": b"one\r\ntwo\r\nthree\r\n", "latin.txt": b"caf\xe9 latin\nline2\n",
                 "caf\u00e9.txt": b"x\n", "run.sh": b"echo hi\n"}
    for name, data in originals.items():
        (repo / name).write_bytes(data)
    commit(repo, "files")
    (repo / "crlf.txt").write_bytes(b"one\r\nTWO\r\nthree\r\n")
    (repo / "latin.txt").write_bytes(b"caf\xe9 LATIN\nline2\n")
    (repo / "caf\u00e9.txt").write_bytes(b"y\n")
    (repo / "run.sh").write_bytes(b"echo bye\n")
    (repo / "run.sh").chmod(0o755)
    diff = subprocess.run(["git", "-C", str(repo), "diff"], capture_output=True, check=True).stdout
    assert b'"a/caf\\303\\251.txt"' in diff and b"new mode 100755" in diff and b"\r\n" in diff
    subprocess.run(["git", "-C", str(repo), "checkout", "--", "."], check=True)
    (repo / "run.sh").chmod(0o644)
    patch_file = tmp_path / "enc.diff"
    patch_file.write_bytes(diff)
    out = sage("apply", str(patch_file), "--workspace", str(repo), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (repo / "crlf.txt").read_bytes() == b"one\r\nTWO\r\nthree\r\n"
    assert (repo / "latin.txt").read_bytes() == b"caf\xe9 LATIN\nline2\n"
    assert (repo / "caf\u00e9.txt").read_bytes() == b"y\n" and not (repo / '"b').exists()
    assert (repo / "run.sh").stat().st_mode & 0o777 == 0o755
    out = sage("undo", "--workspace", str(repo), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name, data in originals.items():
        assert (repo / name).read_bytes() == data
    assert (repo / "run.sh").stat().st_mode & 0o777 == 0o644


def test_a_planted_scratch_name_in_shared_memory_is_never_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `sage apply --check` tries a change in a scratch folder, in /dev/shm when there is
    # one: a folder every local user can write to. Another user who guesses the next name
    # and plants a link there (to a folder they read) gets nothing: the name is skipped and
    # the copy goes to a new folder only SAGE's user can enter, removed afterwards.
    from sage_tui.core.patch import staging

    shared, theirs = tmp_path / "shm", tmp_path / "theirs"
    shared.mkdir()
    theirs.mkdir()
    guessed = b"\x01" * 8
    (shared / f"sage-scratch-{guessed.hex()}").symlink_to(theirs)
    draws = iter([guessed, guessed, b"\x02" * 8])
    real_urandom = os.urandom
    monkeypatch.setattr(staging.os, "urandom",
                        lambda n: next(draws) if n == 8 else real_urandom(n))
    modes: list[int] = []
    real_run = staging.subprocess.run

    def run(*args: object, **kw: object) -> object:
        modes.append(os.stat(Path(str(kw["cwd"])).parent).st_mode & 0o777)
        return real_run(*args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(staging.subprocess, "run", run)
    outcomes, error = staging.try_on_copy(
        "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-a\n+b\n", {"f.txt": b"a\n"}, {"f.txt": None},
        shared)
    assert error == "" and outcomes is not None and outcomes["f.txt"].data == b"b\n"
    assert modes == [0o700]
    assert list(theirs.iterdir()) == []  # nothing was written through the planted link
    assert [p.name for p in shared.iterdir()] == [f"sage-scratch-{guessed.hex()}"]
