"""A patch killed mid-apply leaves the files all-before or all-after (after recovery)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sage_tui.core.patch.engine import PatchEngine
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo

WRITER = Path(__file__).parent / "helpers" / "apply_writer.py"
FILES = 50


def make_case(root: Path) -> tuple[dict[str, str], dict[str, str], Path]:
    files = {f"pkg/mod{i:02d}.py": "".join(f"value_{i}_{j} = {j}\n" for j in range(40))
             for i in range(FILES)}
    git_repo(root, files)
    after = {}
    diff = []
    for name, text in files.items():
        lines = text.splitlines()
        new = list(lines)
        new[10] = new[10] + "  # changed"
        new[30] = new[30] + "  # changed"
        after[name] = "\n".join(new) + "\n"
        diff.append(f"--- a/{name}\n+++ b/{name}\n"
                    f"@@ -10,3 +10,3 @@\n {lines[9]}\n-{lines[10]}\n+{new[10]}\n {lines[11]}\n"
                    f"@@ -30,3 +30,3 @@\n {lines[29]}\n-{lines[30]}\n+{new[30]}\n {lines[31]}\n")
    patch_file = root.parent / f"{root.name}.diff"
    patch_file.write_text("".join(diff))
    return files, after, patch_file


def state(root: Path, before: dict[str, str], after: dict[str, str]) -> str:
    seen = set()
    for name in before:
        text = (root / name).read_text()
        seen.add("before" if text == before[name] else "after" if text == after[name] else "torn")
    return seen.pop() if len(seen) == 1 else "mixed:" + ",".join(sorted(seen))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_applies_recover_to_all_before_or_all_after(tmp_path: Path) -> None:
    rng = random.Random()
    template = tmp_path / "template"
    before, after, patch_file = make_case(template)
    outcomes = []
    for attempt in range(12):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(template, root, symlinks=True)
        proc = subprocess.Popen([sys.executable, str(WRITER), str(root), str(patch_file)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.2))
        # The whole group, git included, as a terminal's kill would: a git left running would
        # keep writing its scratch copy (never the workspace) after recovery tidied it.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        journal = (root / ".sage" / "apply-journal.json").exists()
        PatchEngine(Workspace([root]))  # any patch operation recovers first
        outcome = state(root, before, after)
        outcomes.append((outcome, journal))
        assert outcome in ("before", "after"), (attempt, outcome, journal)
        assert not (root / ".sage" / "apply-journal.json").exists()
        assert not list((root / ".sage").glob("staging/*"))
    print("outcomes (state, journal present at kill):", outcomes)


class Crash(BaseException):
    """Stands in for the process dying at an exact point (not caught by `except Exception`)."""


@pytest.mark.parametrize("renames_before_crash", [0, 1, 17, FILES - 1, FILES])
def test_a_crash_during_the_swap_is_completed_by_recovery(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renames_before_crash: int) -> None:
    root = tmp_path / "repo"
    before, after, patch_file = make_case(root)
    engine = PatchEngine(Workspace([root]))
    from sage_tui.core.patch.model import parse_patch

    patch = parse_patch(patch_file.read_text())
    real_replace = __import__("os").replace
    done = []

    def replace(src: object, dst: object) -> None:
        if str(dst).startswith(str(root / "pkg")):
            if len(done) == renames_before_crash:
                raise Crash()
            done.append(dst)
        real_replace(src, dst)  # type: ignore[arg-type]

    def fsync_dir(path: Path) -> None:  # right after the last rename, before the journal goes
        if path == root and len(done) == FILES:
            raise Crash()

    monkeypatch.setattr("os.replace", replace)
    from sage_tui.core.patch import journal as journal_module

    monkeypatch.setattr(journal_module, "fsync_dir", fsync_dir)
    with pytest.raises(Crash):
        engine.apply(patch)
    monkeypatch.undo()  # the "next process": real os.replace and fsync again
    assert (root / ".sage" / "apply-journal.json").exists()
    if 0 < renames_before_crash < FILES:
        assert state(root, before, after).startswith("mixed")  # what a crash really leaves
    assert PatchEngine(Workspace([root])).recover() is False  # the constructor recovered
    assert state(root, before, after) == "after"
    assert not (root / ".sage" / "apply-journal.json").exists()


@pytest.mark.parametrize("staged_before_crash", [0, 25])
def test_a_crash_while_staging_leaves_everything_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staged_before_crash: int) -> None:
    root = tmp_path / "repo"
    before, after, patch_file = make_case(root)
    engine = PatchEngine(Workspace([root]))
    from sage_tui.core.patch import engine as apply_module
    from sage_tui.core.patch.model import parse_patch

    real_sync = apply_module._sync_file
    synced = []

    def sync(path: Path) -> None:
        if len(synced) == staged_before_crash:
            raise Crash()
        synced.append(path)
        real_sync(path)

    monkeypatch.setattr(apply_module, "_sync_file", sync)
    with pytest.raises(Crash):
        engine.apply(parse_patch(patch_file.read_text()))
    monkeypatch.setattr(apply_module, "_sync_file", real_sync)
    assert not (root / ".sage" / "apply-journal.json").exists()
    PatchEngine(Workspace([root]))
    assert state(root, before, after) == "before"
    assert not list((root / ".sage").glob("staging/*"))
