"""Session log throughput: `SessionLog.emit` (redaction on) beside stdlib logging.

The baseline is what a careful Python program would otherwise do: a `logging`
logger with a `RotatingFileHandler`, writing the very same JSON records (same
fields, same `json.dumps` settings, same rotation size), without redaction.

    python bench/sessionlog.py [--events 50000] [--rounds 5]

Prints events/s for both, best of the rounds, and the ratio (ours / baseline).
Target: ratio >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from sage_tui.core.log.clock import now_iso
from sage_tui.core.log.sessionlog import SessionLog

MAX_MB = 20.0

# A realistic mix: short status payloads, a tool call with arguments, and some text
# (a tool result summary and an assistant message) that the redactor must scan.
PAYLOADS: list[tuple[str, dict[str, object]]] = [
    ("MODEL_ROUTING_DECISION",
     {"role": "coder", "model": "qwen2.5-coder:7b", "host": "http://127.0.0.1:11434",
      "reason": "config"}),
    ("TOKEN_USAGE",
     {"role": "coder", "model": "qwen2.5-coder:7b", "prompt_tokens": 1834,
      "completion_tokens": 211, "source": "ollama",
      "session": {"prompt_tokens": 10234, "completion_tokens": 1987}}),
    ("TOOL_CALL",
     {"tool": "read_file", "args": {"path": "src/app/config.py", "start": 1, "end": 80},
      "call_id": "call_0007"}),
    ("TOOL_RESULT",
     {"tool": "read_file", "call_id": "call_0007", "ok": True,
      "summary": "read 80 lines of src/app/config.py: def load_settings(path): token = "
                 "os.environ.get('APP_TOKEN'); return Settings(token=token)", "ms": 1.7}),
    ("ASSISTANT_MESSAGE",
     {"role": "coder", "text": "I will add a `--verbose` flag to the CLI and thread it through "
      "`run()`; the change touches two files and keeps the public API unchanged."}),
]


def bench_sage(directory: Path, events: int) -> float:
    log = SessionLog.open(Path(directory) / "sessions", session_id="bench", max_mb=MAX_MB)
    count = len(PAYLOADS)
    start = time.perf_counter()
    for i in range(events):
        name, data = PAYLOADS[i % count]
        log.emit(name, data, turn=1)
    elapsed = time.perf_counter() - start
    log.close()
    return events / elapsed


def bench_logging(directory: Path, events: int) -> float:
    path = directory / "baseline.jsonl"
    handler = RotatingFileHandler(path, maxBytes=int(MAX_MB * 1024 * 1024), backupCount=50,
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"bench-{directory.name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    count = len(PAYLOADS)
    start = time.perf_counter()
    for i in range(events):
        name, data = PAYLOADS[i % count]
        record = {"v": 1, "seq": i + 1, "ts": now_iso(), "session_id": "bench", "trace_id": None,
                  "turn": 1, "event": name, "data": data}
        logger.info(json.dumps(record, ensure_ascii=False, separators=(",", ":"),
                               allow_nan=False))
    elapsed = time.perf_counter() - start
    handler.close()
    logger.removeHandler(handler)
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            ours.append(bench_sage(Path(a), args.events))
            base.append(bench_logging(Path(b), args.events))
    best_ours, best_base = max(ours), max(base)
    print(f"events per round:              {args.events:,} x {args.rounds} rounds (best shown)")
    print(f"SessionLog.emit (redaction on): {best_ours:>10,.0f} events/s")
    print(f"logging + RotatingFileHandler:  {best_base:>10,.0f} events/s")
    print(f"ratio (ours / baseline):        {best_ours / best_base:>10.2f}  (target >= 1.00)")


if __name__ == "__main__":
    main()
