"""A child process for the crash tests: emits N events as fast as it can.

After each `emit` returns, the returned `seq` is stored in an 8-byte memory-mapped
file, so the parent knows exactly which records were acknowledged when it sends
SIGKILL at a random moment.

    python log_writer.py HOME SESSION_ID ACK_FILE COUNT MAX_MB
"""

from __future__ import annotations

import mmap
import sys

from sage_tui.core.log.sessionlog import SessionLog
from sage_tui.paths import sage_paths


def main() -> None:
    home, session_id, ack_path, count, max_mb = sys.argv[1:6]
    with open(ack_path, "r+b") as ack_file:
        ack = mmap.mmap(ack_file.fileno(), 8)
    log = SessionLog.open(sage_paths(home).sessions, session_id=session_id, max_mb=float(max_mb))
    print("ready", flush=True)
    payload = {"tool": "read_file", "call_id": "c", "ok": True, "ms": 0.4,
               "summary": "read 12 lines of src/app.py: def main(): return run(token=token)"}
    for _ in range(int(count)):
        seq = log.emit("TOOL_RESULT", payload, turn=1)
        ack[0:8] = seq.to_bytes(8, "little")
    log.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
