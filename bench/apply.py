"""Proposing, checking and applying a 200-hunk patch across 50 files, beside plain `git apply`.

SAGE's path: parse the diff (unidiff), check every hunk against the files (with the
closest-match diagnostics), run `git apply --recount` on a scratch copy, stage and
fsync the results, hold every target folder (no link followed), journal, rename. The
baselines: `git apply`, and `git apply --check` then `git apply`, of the same patch
file in copies of the same repository. Each round starts from a fresh copy. Then the
time to refuse a 10,000-line hunk that does not fit a 50,000-line file.

    python bench/apply.py [--rounds 9] [--dir FOLDER]

Targets: SAGE / (check + apply) <= 3; the refusal < 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sage_tui.core.patch.model import parse_patch
from sage_tui.factory import patch_engine

FILES, HUNKS_PER_FILE, LINES = 50, 4, 160


def make_repo(root: Path) -> str:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    diff = []
    for i in range(FILES):
        lines = [f"def function_{i}_{j}(value):  # line {j}" for j in range(LINES)]
        (root / f"module_{i:02d}.py").write_text("\n".join(lines) + "\n")
        chunks = [f"--- a/module_{i:02d}.py\n+++ b/module_{i:02d}.py\n"]
        for h in range(HUNKS_PER_FILE):
            at = 10 + h * 35  # 0-based line changed
            chunks.append(f"@@ -{at - 2},5 +{at - 2},5 @@\n" + "".join(
                f" {lines[k]}\n" if k != at else f"-{lines[k]}\n+{lines[k]}  # edited\n"
                for k in range(at - 3, at + 2)))
        diff.append("".join(chunks))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b",
                    "commit", "-qm", "base"], check=True)
    return "".join(diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--dir", default=None, help="where to make the repositories "
                        "(default: the system temp folder)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="sage-bench-apply-", dir=args.dir))
    os.environ["SAGE_HOME"] = str(base / "home")  # SAGE's state folder, beside the repositories
    template = base / "template"
    diff = make_repo(template)
    patch_file = base / "change.diff"
    patch_file.write_text(diff)
    ours: list[float] = []
    git: list[float] = []
    careful: list[float] = []
    for round_number in range(args.rounds):
        mine, theirs = base / f"ours{round_number}", base / f"git{round_number}"
        checked = base / f"careful{round_number}"
        for folder in (mine, theirs, checked):
            shutil.copytree(template, folder)
        engine = patch_engine(mine)  # once per session, not per patch
        start = time.perf_counter()
        patch = parse_patch(patch_file.read_text())
        result = engine.apply(patch)
        ours.append(time.perf_counter() - start)
        assert result.ok and len(patch.hunks) == FILES * HUNKS_PER_FILE, result.reason
        start = time.perf_counter()
        subprocess.run(["git", "apply", str(patch_file)], cwd=theirs, check=True)
        git.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(["git", "apply", "--check", str(patch_file)], cwd=checked, check=True)
        subprocess.run(["git", "apply", str(patch_file)], cwd=checked, check=True)
        careful.append(time.perf_counter() - start)
        assert (mine / "module_07.py").read_text() == (theirs / "module_07.py").read_text()
    refusal = refuse_big_hunk(base)
    shutil.rmtree(base, ignore_errors=True)
    o, g = statistics.median(ours) * 1000, statistics.median(git) * 1000
    c = statistics.median(careful) * 1000
    print(f"patch: {FILES * HUNKS_PER_FILE} hunks across {FILES} files; {args.rounds} rounds, "
          "median")
    print(f"SAGE parse + check + atomic apply:  {o:7.1f} ms")
    print(f"plain git apply:                    {g:7.1f} ms")
    print(f"git apply --check, then git apply:  {c:7.1f} ms")
    print(f"ratio (SAGE / git apply):           {o / g:7.2f}")
    print(f"ratio (SAGE / check + apply):       {o / c:7.2f}  (target <= 3)")
    print(f"refusing a 10,000-line hunk that does not fit a 50,000-line file: {refusal:.2f} s "
          "(target < 2 s)")


def refuse_big_hunk(base: Path) -> float:
    """Seconds to refuse (parse, check, name the closest match) a big hunk that does not fit."""
    root = base / "big"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    lines = [f"value_{i} = compute({i})" for i in range(50_000)]
    (root / "big.py").write_text("\n".join(lines) + "\n")
    old = lines[20_000:30_000]
    old[5_000] = "value_x = something_else()"
    diff = ("--- a/big.py\n+++ b/big.py\n@@ -20001,10000 +20001,1 @@\n"
            + "".join(f"-{line}\n" for line in old) + "+replaced = True\n")
    engine = patch_engine(root)
    start = time.perf_counter()
    result = engine.apply(parse_patch(diff))
    elapsed = time.perf_counter() - start
    assert not result.ok and "99% alike" in result.reason, result.reason
    return elapsed


if __name__ == "__main__":
    main()
