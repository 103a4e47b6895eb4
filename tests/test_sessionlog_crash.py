"""A writer killed with SIGKILL at a random moment loses nothing it acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from sage_tui.core.log.sessionlog import SessionLog, TornTailWarning, read_session
from sage_tui.paths import sage_paths

WRITER = Path(__file__).parent / "helpers" / "log_writer.py"
EVENTS = 100_000

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _kill_at_random(home: Path, session_id: str, max_mb: float, delay: float) -> int:
    ack = home / f"{session_id}.ack"
    ack.write_bytes(b"\0" * 8)
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(home), session_id, str(ack), str(EVENTS), str(max_mb)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return int.from_bytes(ack.read_bytes(), "little")


def _check_log(home: Path, session_id: str, acknowledged: int) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornTailWarning)  # a torn tail is allowed
        seqs = [r["seq"] for r in read_session(session_id, sage_paths(home).sessions)]
    assert seqs == list(range(1, len(seqs) + 1)), "seq must be contiguous from 1"
    assert len(seqs) >= acknowledged, f"acknowledged {acknowledged}, found {len(seqs)}"
    return seqs


@pytest.mark.slow
@pytest.mark.parametrize("max_mb", [20.0, 0.25], ids=["one-part", "rotating"])
def test_sigkill_at_random_moments_keeps_every_acknowledged_record(
        sage_home: Path, max_mb: float) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    for attempt in range(3):
        session_id = f"crash-{int(max_mb * 100)}-{attempt}"
        delay = rng.uniform(0.05, 1.2)
        acknowledged = _kill_at_random(sage_home, session_id, max_mb, delay)
        seqs = _check_log(sage_home, session_id, acknowledged)
        # The session can be continued: seq goes on from the last record on disk.
        with SessionLog.open(sage_paths(sage_home).sessions, session_id=session_id,
                             max_mb=max_mb) as log:
            assert log.emit("ERROR", {"where": "test", "kind": "resumed", "message": "x"}) == (
                len(seqs) + 1)
        assert _check_log(sage_home, session_id, acknowledged)[-1] == len(seqs) + 1


@pytest.mark.slow
def test_writer_that_finishes_writes_all_records(sage_home: Path) -> None:
    ack = sage_home / "all.ack"
    ack.write_bytes(b"\0" * 8)
    subprocess.run([sys.executable, str(WRITER), str(sage_home), "all", str(ack), "20000", "0.5"],
                   check=True, capture_output=True)
    assert _check_log(sage_home, "all", 20000)[-1] == 20000
    assert len(list((sage_home / "data" / "sessions").glob("all.*.jsonl"))) >= 2
