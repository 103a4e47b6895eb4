"""Start-up of a read-only command: `sage apply --check` of a one-hunk patch beside a bare
`python -c pass`, whole processes.

Both are spawned alternately (paired rounds, after one warm-up of each that leaves byte-code
caches as an install has them), and the medians and their ratio are printed. `sage` runs
this checkout's code (PYTHONPATH is set to it), whichever install the console script
belongs to. A second pair times `sage trace --json` (the session list) the same way.

    python bench/cli.py [--rounds 9]

Target: `sage apply --check` <= 3x the bare interpreter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATCH = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"


def _repo(folder: Path) -> Path:
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "f.txt").write_text("a\nb\nc\n")
    (folder / "one.diff").write_text(PATCH)
    return folder


def _child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, SAGE_HOME=str(home), PYTHONPATH=str(ROOT))
    # Byte-code caches as an installed `sage` has them: without them every start would
    # compile SAGE's sources again (the interpreter's own modules come compiled).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed: {done.stderr.decode(errors='replace')}")
    return took


def paired(ours: list[str], rounds: int, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Medians (ours, bare) over `rounds` alternating spawns, after one warm-up of each."""
    bare = [sys.executable, "-c", "pass"]
    _time(bare, cwd, env)
    _time(ours, cwd, env)
    mine, base = [], []
    for _ in range(rounds):
        base.append(_time(bare, cwd, env))
        mine.append(_time(ours, cwd, env))
    return statistics.median(mine), statistics.median(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sage-bench-cli-"))
    repo = _repo(scratch / "repo")
    env = _child_env(scratch / "home")
    sage = str(Path(sys.executable).with_name("sage"))
    for label, argv in (("sage apply --check (one hunk)", [sage, "apply", "--check", "one.diff"]),
                        ("sage trace --json (list)", [sage, "trace", "--json"])):
        ours, base = paired(argv, max(5, args.rounds), repo, env)
        print(f"{label}: {ours * 1000:.0f} ms; python -c pass: {base * 1000:.0f} ms; "
              f"ratio {ours / base:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
