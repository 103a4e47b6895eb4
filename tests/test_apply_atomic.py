"""A patch killed mid-apply or mid-undo leaves the files all-before or all-after, and the undo
record agrees with what is on disk (after the next command recovers)."""

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

from sage_tui.core.patch import engine as engine_module
from sage_tui.core.patch.engine import UndoError
from sage_tui.core.patch.model import parse_patch
from sage_tui.factory import patch_engine
from tests.conftest import git_repo

FILES = 50
EARLIER = "--- a/earlier.txt\n+++ b/earlier.txt\n@@ -1 +1 @@\n-one\n+one, patched earlier\n"


def make_case(root: Path) -> tuple[dict[str, str], dict[str, str], Path]:
    files = {f"pkg/mod{i:02d}.py": "".join(f"value_{i}_{j} = {j}\n" for j in range(40))
             for i in range(FILES)}
    git_repo(root, {**files, "earlier.txt": "one\n"})
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


def sage(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sage_tui", *args, "--workspace", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_at_random(proc: subprocess.Popen[str], rng: random.Random) -> None:
    time.sleep(rng.uniform(0.15, 0.9))
    # The whole group, git included, as a terminal's kill would.
    with_group = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        with_group = False  # it had finished
    proc.communicate(timeout=60)
    assert with_group or proc.returncode == 0, proc.returncode


@pytest.mark.slow
def test_killed_sage_apply_and_sage_undo_leave_one_state_and_undo_reverts_it(
        tmp_path: Path) -> None:
    rng = random.Random()
    template = tmp_path / "template"
    before, after, patch_file = make_case(template)
    earlier_file = tmp_path / "earlier.diff"
    earlier_file.write_text(EARLIER)
    outcomes = []
    for attempt in range(12):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(template, root, symlinks=True)
        engine = patch_engine(root)
        assert engine.apply(parse_patch(EARLIER)).ok  # an earlier patch on record
        # `sage apply`, killed at a random moment
        kill_at_random(sage(root, "apply", str(patch_file)), rng)
        engine = patch_engine(root)  # the next command recovers first
        applied = state(root, before, after)
        assert applied in ("before", "after"), (attempt, applied)
        # `sage undo`, killed at a random moment, when the big patch is on disk
        undone = applied
        if applied == "after":
            kill_at_random(sage(root, "undo"), rng)
            engine = patch_engine(root)
            undone = state(root, before, after)
            assert undone in ("before", "after"), (attempt, undone)
        outcomes.append((applied, undone))
        # Whatever is on disk, undo reverts exactly that, then the earlier patch.
        engine.undo()
        assert state(root, before, after) == "before"
        if undone == "after":
            assert (root / "earlier.txt").read_text() == "one, patched earlier\n"
            engine.undo()
        assert (root / "earlier.txt").read_text() == "one\n"
        with pytest.raises(UndoError, match="Nothing to undo"):
            engine.undo()
        assert not engine.journal.exists()
        assert not list((root / ".sage").glob("staging/*"))
    print("outcomes (after apply, after undo):", outcomes)


class Crash(BaseException):
    """Stands in for the process dying at an exact point (not caught by `except Exception`)."""


@pytest.mark.parametrize("renames_before_crash", [0, 1, 17, FILES - 1, FILES])
def test_a_crash_during_the_renames_is_completed_by_recovery_and_undo_agrees(
        tmp_path: Path, renames_before_crash: int) -> None:
    root = tmp_path / "repo"
    before, after, patch_file = make_case(root)
    engine = patch_engine(root)
    patch = parse_patch(patch_file.read_text())
    real_rename = os.rename
    done = []

    def rename(src: str, dst: str, *, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None) -> None:
        if str(dst).startswith("mod"):
            if len(done) == renames_before_crash:
                raise Crash()
            done.append(dst)
        real_rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    def finish(*args: object) -> None:  # every file renamed, the undo record not yet written
        raise Crash()

    with pytest.MonkeyPatch.context() as patched, pytest.raises(Crash):
        patched.setattr(os, "rename", rename)
        if renames_before_crash == FILES:
            patched.setattr(engine_module.PatchEngine, "_finish", finish)
        engine.apply(patch)
    # the "next process": the real rename and finish again
    assert engine.journal.exists()
    if 0 < renames_before_crash < FILES:
        assert state(root, before, after).startswith("mixed")  # what a crash really leaves
    again = patch_engine(root)  # any patch operation recovers first
    assert again.recovered is not None and again.recovered.kind == "apply"
    assert state(root, before, after) == "after"
    assert not again.journal.exists()
    _, manifest = again.undo()
    assert manifest["patch_id"] == patch.patch_id and state(root, before, after) == "before"


@pytest.mark.parametrize("staged_before_crash", [0, 25])
def test_a_crash_while_staging_leaves_everything_before(
        tmp_path: Path, staged_before_crash: int) -> None:
    root = tmp_path / "repo"
    before, after, patch_file = make_case(root)
    engine = patch_engine(root)
    real_stage = engine_module._stage
    staged = []

    def stage(*args: object) -> int:
        if len(staged) == staged_before_crash:
            raise Crash()
        staged.append(args)
        return real_stage(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patched, pytest.raises(Crash):
        patched.setattr(engine_module, "_stage", stage)
        engine.apply(parse_patch(patch_file.read_text()))
    assert not engine.journal.exists()
    patch_engine(root).recover()
    assert state(root, before, after) == "before"
    assert not list((root / ".sage").glob("staging/*"))
    with pytest.raises(UndoError, match="Nothing to undo"):
        patch_engine(root).undo()
