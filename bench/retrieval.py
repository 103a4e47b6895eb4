"""The retrieval index: cold build, first query in a new process, peak memory.

Side by side in one run, each measurement in its own new process (so imports, the disk
cache and peak memory are a process's real ones), rounds interleaved:

- before: the in-memory index as it was before it persisted (commit aa30e55, read from
  this repository's history), which reads and tokenizes every file in every process;
- cold: the SQLite index built from nothing (an empty state folder);
- warm: a new process whose index already exists (nothing changed on disk), which is
  every `sage run` after the first.

    python bench/retrieval.py [REPO] [--rounds N]

REPO is a git checkout of about 2,000 files (the figures in docs/retrieval.md are for
Textual's repository, 2,120 files); without one, a git repository is made from the
Python sources installed beside SAGE (Textual, Rich, Pygments, Hypothesis, ...: real
code, up to 2,000 files; about 1,600 in the dev environment). Targets: warm first query
<= 0.5 s; cold build no slower than before; peak memory no higher than before.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "aa30e55"  # the last commit with the in-memory index
QUERIES = ("where is the compose method of the App class defined?",
           "how are key bindings looked up", "css variable tokenizer", "DataTable add_row cursor",
           "which widget handles markdown links")
PACKAGES = ("textual", "rich", "pygments", "click", "yaml", "httpx", "httpcore", "anyio",
            "markdown_it", "unidiff", "platformdirs", "hypothesis", "_pytest", "pip")

CHILD = """
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from sage_tui.core.workspace.workspace import Workspace
kind, repo, state, queries = sys.argv[2], Path(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
if kind == "before":
    import importlib.util
    spec = importlib.util.spec_from_file_location("before_retrieval", sys.argv[6])
    module = importlib.util.module_from_spec(spec); sys.modules["before_retrieval"] = module
    spec.loader.exec_module(module)
    index = module.RetrievalIndex(Workspace([repo]))
else:
    from sage_tui.core.workspace.retrieval import RetrievalIndex
    index = RetrievalIndex(Workspace([repo]), Path(state))
imported = time.perf_counter()
hits, health = index.search(queries[0])
first = time.perf_counter()
for query in queries[1:]:
    index.search(query)
rest = (time.perf_counter() - first) / max(1, len(queries) - 1)
print(json.dumps({"import": imported - start, "first": first - imported,
                  "process_first": first - start, "next": rest, "files": health.files,
                  "read": getattr(health, "read", health.files + health.skipped),
                  "hits": [h.citation for h in hits]}))
"""


def sample_repo(target: Path, limit: int = 2000) -> Path:
    """A git repository of the installed packages' sources (real code), about `limit` files."""
    import importlib.util

    copied = 0
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        source = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(source.rglob("*")):
            if copied >= limit:
                break
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (
                    ".py", ".pyi", ".md", ".tcss", ".css", ".txt", ".json", ".toml"):
                dest = target / package / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
                copied += 1
    git = ["git", "-C", str(target), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "sample"], check=True)
    return target


def measure(kind: str, repo: Path, state: Path, before: Path) -> dict[str, float]:
    """Run one measurement in a new process; its figures plus its peak resident memory."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), kind, str(repo), str(state),
         json.dumps(QUERIES), str(before)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the {kind} measurement failed (exit {child.returncode})")
    figures = json.loads(output)
    figures["peak_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sage-bench-retrieval-"))
    try:
        repo = args.repo.resolve() if args.repo else sample_repo(scratch / "repo")
        files = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True,
                               text=True, check=True).stdout.count("\n")
        before = scratch / "before_retrieval.py"
        shown = subprocess.run(["git", "-C", str(ROOT), "show",
                                f"{BEFORE}:sage_tui/core/workspace/retrieval.py"],
                               capture_output=True, text=True)
        if shown.returncode != 0:
            raise SystemExit(f"commit {BEFORE} is not in this checkout's history; "
                             "run from a full clone to compare with the index before it.")
        before.write_text(shown.stdout)
        print(f"repository: {repo} ({files} files tracked); {args.rounds} rounds, interleaved")
        runs: dict[str, list[dict[str, float]]] = {"before": [], "cold": [], "warm": []}
        for round_ in range(args.rounds):
            state = scratch / f"state-{round_}" / "index.sqlite3"
            runs["before"].append(measure("before", repo, state, before))
            runs["cold"].append(measure("cold", repo, state, before))
            runs["warm"].append(measure("warm", repo, state, before))
        med = {kind: {key: statistics.median(r[key] for r in rs)
                      for key in ("first", "process_first", "next", "peak_mb", "read")}
               for kind, rs in runs.items()}
        print(f"{'':8}{'first query':>13}{'process→hits':>14}{'next queries':>14}"
              f"{'files read':>12}{'peak RSS':>11}")
        for kind, m in med.items():
            print(f"{kind:8}{m['first']:>11.3f} s{m['process_first']:>12.3f} s"
                  f"{m['next'] * 1000:>11.1f} ms{m['read']:>12.0f}{m['peak_mb']:>8.0f} MB")
        size = (scratch / "state-0" / "index.sqlite3").stat().st_size / 2**20
        print(f"index on disk: {size:.1f} MB")
        print(f"cold build / before: {med['cold']['first'] / med['before']['first']:.2f}x "
              "(target <= 1.0)")
        print(f"warm first query: {med['warm']['first']:.3f} s (target <= 0.5 s); "
              f"{med['before']['first'] / med['warm']['first']:.0f}x faster than before")
        print(f"peak memory cold / before: {med['cold']['peak_mb'] / med['before']['peak_mb']:.2f}x"
              " (target <= 1.0)")
        for kind in ("before", "warm"):  # BM25 either way; FTS5's length normalisation differs
            print(f"{kind} top hits for {QUERIES[0]!r}: {', '.join(runs[kind][0]['hits'][:3])}")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
