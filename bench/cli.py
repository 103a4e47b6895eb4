"""Start-up of a read-only command: `sage apply --check` of a one-hunk patch beside a bare
`python -c pass`, whole processes.

Both are spawned alternately (paired rounds, after one warm-up of each that leaves byte-code
caches as an install has them), and the medians are printed with the median of each round's
ratio (a shared machine's speed drifts between rounds; a round's pair shares it): wall-clock
time, the target, and the processes' own CPU time (user + system, git's children not
included), which a busy machine disturbs less. `sage` runs
this checkout's code (PYTHONPATH is set to it), whichever install the console script
belongs to. A second pair times `sage trace --json` (the session list) the same way, and a
third the import of click alone: the floor of every command that goes through click (the
plain read-only checks do not: launcher.py).

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


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the child's own) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    return took, usage.ru_utime + usage.ru_stime


def paired(ours: list[str], rounds: int, cwd: Path, env: dict[str, str]
           ) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Medians ((wall, cpu) ours, (wall, cpu) bare, (wall, cpu) of each round's ratio) over
    `rounds` alternating spawns, after one warm-up of each."""
    bare = [sys.executable, "-c", "pass"]
    _time(bare, cwd, env)
    _time(ours, cwd, env)
    mine, base = [], []
    for _ in range(rounds):
        base.append(_time(bare, cwd, env))
        mine.append(_time(ours, cwd, env))

    def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    ratios = [(m[0] / b[0], m[1] / b[1]) for m, b in zip(mine, base, strict=True)]
    return medians(mine), medians(base), medians(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sage-bench-cli-"))
    repo = _repo(scratch / "repo")
    env = _child_env(scratch / "home")
    sage = str(Path(sys.executable).with_name("sage"))
    for label, argv in (("sage apply --check (one hunk)", [sage, "apply", "--check", "one.diff"]),
                        ("sage trace --json (list)", [sage, "trace", "--json"]),
                        ("reference: python -c 'import click'",
                         [sys.executable, "-c", "import click"])):
        ours, base, ratio = paired(argv, max(5, args.rounds), repo, env)
        print(f"{label}: {ours[0] * 1000:.0f} ms; python -c pass: {base[0] * 1000:.0f} ms; "
              f"ratio {ratio[0]:.2f}x (target <= 3x); CPU time {ours[1] * 1000:.0f} "
              f"against {base[1] * 1000:.0f} ms, {ratio[1]:.2f}x")


if __name__ == "__main__":
    main()
