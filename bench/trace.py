"""`sage trace` on a big log: peak resident memory of each way of reading it.

A session of about 200 MB is written to a scratch SAGE_HOME: one live file by default (a log
whose rotation was raised, the worst case), or parts of `--part-mb` as the log rotates them.
Then, each in its own process:

- list: `sage trace` (the table of sessions);
- show: `sage trace ID` (every record, printed to /dev/null);
- unknown: `sage trace NO-SUCH-REF` (every file searched for a trace id, then one sentence);
- trace: `sage trace TRACE-ID` (the big session carries it; merged output);
- follow: `sage trace ID --follow` until it has printed the last record, then Ctrl+C.

Each figure is the process's peak RSS (`wait4`), beside a bare `python -c pass` and a bare
`import sage_tui.cli` measured in the same run. Target: every command under 50 MB.

    python bench/trace.py [--mb 200] [--part-mb 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSION = "20261201-120000-b16b16"
TRACE = "bench-trace"


def write_log(folder: Path, megabytes: int, part_mb: int) -> int:
    """The big session's parts and live file; returns its last seq."""
    folder.mkdir(parents=True, exist_ok=True)
    seq, part, target = 0, 1, megabytes << 20
    limit = (part_mb or megabytes) << 20
    written = 0
    summary = "ok " + "x" * 300  # a tool result's summary: typical records are a few hundred bytes
    while written < target:
        name = f"{SESSION}.{part}.jsonl" if written + limit < target else f"{SESSION}.jsonl"
        with (folder / name).open("w", encoding="utf-8") as handle:
            size = 0
            while size < limit and written + size < target:
                seq += 1
                event = "SESSION_STARTED" if seq == 1 else "TOOL_RESULT"
                data = ({"workspace": "/w", "mode": "auto", "profile": None, "version": "0.1.0"}
                        if seq == 1 else {"tool": "run_tests", "call_id": f"tool-{seq}",
                                          "ok": True, "summary": summary, "ms": 12.5})
                line = json.dumps({"v": 1, "seq": seq, "ts": "2026-12-01T12:00:00.000Z",
                                   "session_id": SESSION, "trace_id": TRACE, "turn": seq // 50,
                                   "event": event, "data": data}, separators=(",", ":")) + "\n"
                handle.write(line)
                size += len(line)
        written += size
        part += 1
    return seq


def peak_mb(argv: list[str], env: dict[str, str], until: str | None = None) -> float:
    """Peak RSS of a process; with `until`, it is interrupted once that text is printed."""
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE if until else subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    if until is not None:
        assert child.stdout is not None
        for raw in child.stdout:
            if until.encode() in raw:
                break
        child.send_signal(signal.SIGINT)
        child.stdout.close()
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--part-mb", type=int, default=0, help="rotate at this size (0: never)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sage-bench-trace-"))
    try:
        sessions = home / "data" / "sessions"
        last = write_log(sessions, args.mb, args.part_mb)
        size = sum(p.stat().st_size for p in sessions.iterdir()) / 2**20
        env = {**os.environ, "SAGE_HOME": str(home), "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
        sage = [sys.executable, "-m", "sage_tui", "trace"]
        figures = {
            "python -c pass": peak_mb([sys.executable, "-c", "pass"], env),
            "import sage_tui.cli": peak_mb([sys.executable, "-c", "import sage_tui.cli"], env),
            "list": peak_mb(sage, env),
            "show": peak_mb([*sage, SESSION], env),
            "unknown": peak_mb([*sage, "no-such-reference"], env),
            "trace": peak_mb([*sage, TRACE], env),
            "follow": peak_mb([*sage, SESSION, "--follow", "--json"], env,
                              until=f'"seq":{last},'),
        }
        print(f"log: {size:.0f} MB in {len(list(sessions.iterdir()))} files, {last:,} records")
        for name, figure in figures.items():
            verdict = "" if name.startswith(("python", "import")) else (
                "  ok" if figure < 50 else "  OVER the 50 MB target")
            print(f"{name:<22}{figure:>7.1f} MB{verdict}")
        return 0 if all(v < 50 for k, v in figures.items() if not k.startswith(("p", "i"))) else 1
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
