"""Workbench speed and memory.

1. Process start to first painted frame: `sage demo` beside a minimal Textual app, both
   spawned in a pseudo-terminal and timed until their first screen text arrives, in
   rounds of one each (which goes first alternates) after one warm-up: the medians, and the
   median of each round's ratio (a shared machine's speed drifts between rounds; a round's
   pair shares it), with byte-code caches as an install has them. `sage` runs this
   checkout's code (PYTHONPATH is set to it), whichever install the console script belongs to.
2. Events per second the event stream absorbs while a key press is still handled within
   100 ms.
3. Time to open the diff reviewer on 1,000- and 10,000-line patches.
4. Resident memory after 100,000 events.
5. Key latency while a 5 MB answer streams in (1,000-character chunks, about 1 MB/s).

    python bench/ui.py [--rounds 15] [--first-frame]   (--first-frame: part 1 only)

Targets: first frame <= 1.3x the minimal app (nothing but the first screen before the
first frame); >= 5,000 events/s; a 10,000-line patch open in under 300 ms; under 200 MB
resident after 100,000 events; keys handled within 100 ms while a 5 MB answer streams.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MINIMAL = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("MINIMAL-READY")
Minimal().run()
"""


def first_frame(argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30) -> float:
    """Seconds from spawning `argv` in a 140x45 pty until `marker` is on screen."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        # Byte-code caches as an installed `sage` has them: without them every start would
        # compile SAGE's sources (the minimal app's Textual comes compiled).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.update(env)
        os.execvp(argv[0], argv)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 140, 0, 0))
    start = time.perf_counter()
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
                if marker in seen:
                    return time.perf_counter() - start
        raise RuntimeError(f"{argv[0]} never showed {marker!r}")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def bench_first_frame(rounds: int) -> tuple[list[float], list[float]]:
    """Each round's first frame of `sage demo` and of the minimal app, spawned back to back."""
    env = {"TERM": "xterm-256color", "SAGE_HOME": tempfile.mkdtemp(prefix="sage-bench-ui-"),
           "PYTHONPATH": str(ROOT)}  # this checkout's sage_tui, not the installed one
    script = Path(tempfile.mkdtemp()) / "minimal.py"
    script.write_text(MINIMAL)
    sage = str(Path(sys.executable).with_name("sage"))
    first_frame([sys.executable, str(script)], b"MINIMAL-READY", env)  # warm-up: caches
    first_frame([sage, "demo"], b"Routing", env)
    ours, base = [], []
    for round_ in range(rounds):  # which goes first alternates, so neither gains from order
        if round_ % 2:
            ours.append(first_frame([sage, "demo"], b"Routing", env))
        base.append(first_frame([sys.executable, str(script)], b"MINIMAL-READY", env))
        if not round_ % 2:
            ours.append(first_frame([sage, "demo"], b"Routing", env))
    return ours, base


async def bench_events_and_memory() -> dict[str, Any]:
    from textual import events

    from sage_tui.ui.app import SageApp
    from sage_tui.ui.widgets.event_stream import EventStream

    record = {"ts": "2026-11-21T10:00:00.000Z", "turn": 1, "event": "TOOL_RESULT",
              "data": {"tool": "read_file", "call_id": "c", "ok": True, "ms": 1.2,
                       "summary": "read 40 lines of src/app/cli.py"}}
    results: dict[str, Any] = {}
    app = SageApp(None, replay=[], replay_speed=0)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        stream = app.workbench.query_one(EventStream)
        screen = app.workbench
        for rate in (1_000, 5_000, 10_000, 20_000, 50_000):
            stop = asyncio.Event()
            fed = 0

            async def feed(rate: int = rate, stop: asyncio.Event = stop) -> None:
                nonlocal fed
                batch = max(1, rate // 100)
                while not stop.is_set():
                    for _ in range(batch):
                        stream.add(record)
                    fed += batch
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(feed())
            latencies = []
            began = time.perf_counter()
            for _ in range(20):
                # A key event into the app, timed until its binding's action runs.
                handled = asyncio.get_running_loop().create_future()
                screen.action_focus_patches = lambda f=handled: (f.done() or  # type: ignore
                                                                 f.set_result(time.perf_counter()))
                start = time.perf_counter()
                app.post_message(events.Key("f3", None))
                latencies.append(await asyncio.wait_for(handled, 30) - start)
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - began
            stop.set()
            await task
            results[rate] = (fed / elapsed, max(latencies) * 1000, statistics.median(latencies) * 1000)
        for _ in range(100_000 - len(stream.records)):
            stream.add(record)
        await pilot.pause(0.3)
        results["records"] = len(stream.records)
        results["rss_mb"] = rss_mb()
    return results


async def bench_streaming_keys(total: int = 5_000_000, chunk: int = 1_000) -> dict[str, float]:
    """Key latency (median, worst) while `total` characters stream through the UI bridge."""
    from textual import events

    from sage_tui.ui.app import SageApp

    app = SageApp(None, replay=[], replay_speed=0)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        screen = app.workbench
        piece = ("word " * (chunk // 5))[:chunk]
        done = asyncio.Event()

        async def stream() -> None:
            for _ in range(total // chunk):
                app.bridge.delta(piece)
                await asyncio.sleep(0.001)  # about 1 MB/s, a fast local model's pace
            app.bridge.flush()
            done.set()

        task = asyncio.create_task(stream())
        latencies = []
        began = time.perf_counter()
        while not done.is_set() and len(latencies) < 60:
            handled = asyncio.get_running_loop().create_future()
            screen.action_focus_patches = lambda f=handled: (f.done() or  # type: ignore
                                                             f.set_result(time.perf_counter()))
            start = time.perf_counter()
            app.post_message(events.Key("f3", None))
            latencies.append(await asyncio.wait_for(handled, 120) - start)
            await asyncio.sleep(0.05)
        await task
        streamed = time.perf_counter() - began
    return {"median": statistics.median(latencies) * 1000, "worst": max(latencies) * 1000,
            "keys": len(latencies), "seconds": streamed}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def bench_diff(lines: int) -> float:
    """Seconds from pushing the reviewer to its first painted diff line."""
    from textual.app import App

    from sage_tui.core.patch.model import parse_patch
    from sage_tui.ui.screens.diff_review import DiffReviewScreen
    from sage_tui.ui.widgets import diff_view

    body = "".join(f"-old line {i} = compute({i})\n+new line {i} = compute({i} + 1)\n"
                   for i in range(lines // 2))
    patch = parse_patch(f"--- a/big.py\n+++ b/big.py\n@@ -1,{lines // 2} +1,{lines // 2} @@\n"
                        + body)
    painted: list[float] = []
    original = diff_view.DiffView.render_line

    def render_line(self: Any, y: int) -> Any:
        if not painted:
            painted.append(time.perf_counter())
        return original(self, y)

    diff_view.DiffView.render_line = render_line  # type: ignore[method-assign]
    app = App[None]()
    try:
        async with app.run_test(size=(170, 45)) as pilot:
            await pilot.pause()
            start = time.perf_counter()
            await app.push_screen(DiffReviewScreen(patch))
            while not painted:
                await asyncio.sleep(0.001)
            return painted[0] - start
    finally:
        diff_view.DiffView.render_line = original  # type: ignore[method-assign]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="first-frame rounds (paired)")
    parser.add_argument("--first-frame", action="store_true", help="measure only the first frame")
    args = parser.parse_args()
    args.rounds = max(1, args.rounds)
    ours, base = bench_first_frame(args.rounds)
    ratios = sorted(o / b for o, b in zip(ours, base, strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(f"first frame, sage demo:           {statistics.median(ours) * 1000:7.0f} ms  "
          f"(median of {args.rounds})")
    print(f"first frame, minimal Textual app: {statistics.median(base) * 1000:7.0f} ms  "
          f"(median of {args.rounds})")
    print(f"first frame ratio, sage demo / minimal app: {statistics.median(ratios):.2f}x, "
          f"single rounds' middle half {quartiles[0]:.2f}-{quartiles[2]:.2f}x  "
          "(target <= 1.30x)")
    if args.first_frame:
        return
    results = asyncio.run(bench_events_and_memory())
    for rate in (1_000, 5_000, 10_000, 20_000, 50_000):
        absorbed, worst, median = results[rate]
        print(f"events offered {rate:>6,}/s: absorbed {absorbed:>8,.0f}/s, key press "
              f"median {median:5.1f} ms, worst {worst:5.1f} ms")
    print("(target: >= 5,000 events/s with key presses handled within 100 ms)")
    print(f"resident memory after {results['records']:,} events: {results['rss_mb']:.0f} MB "
          "(target < 200 MB)")
    streaming = asyncio.run(bench_streaming_keys())
    print(f"keys while a 5 MB answer streams: median {streaming['median']:.1f} ms, worst "
          f"{streaming['worst']:.1f} ms over {streaming['keys']:.0f} presses in "
          f"{streaming['seconds']:.1f} s  (target < 100 ms)")
    for lines in (1_000, 10_000):
        seconds = asyncio.run(bench_diff(lines))
        print(f"diff reviewer open, {lines:>6,}-line patch: {seconds * 1000:6.0f} ms"
              + ("  (target < 300 ms)" if lines == 10_000 else ""))


if __name__ == "__main__":
    main()
