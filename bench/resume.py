"""Continuing a long session: the time until the workbench takes input again.

A session log of N question/answer turns (Markdown answers with a code block, the routing,
experts and token records of each) is continued in the headless workbench; beside it, in
the same run, a fresh session is opened on the same workspace. Printed: the seconds until
the prompt takes input, and the ratio to a fresh start, for 30, 200 and 600 turns.

    python bench/resume.py

Target: a 600-turn session takes input within 3x a fresh start (the conversation redraws
the newest 30 turns; the event stream and the patch queue take every kept record).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_log(directory: Path, session_id: str, workspace: Path, turns: int) -> None:
    from sage_tui.core.log.sessionlog import SessionLog

    with SessionLog.open(directory, session_id=session_id) as log:
        log.emit("SESSION_STARTED", {"workspace": str(workspace), "mode": "research",
                                     "profile": None, "version": "bench"}, turn=0)
        totals = {"prompt_tokens": 0, "completion_tokens": 0}
        for turn in range(1, turns + 1):
            log.emit("USER_MESSAGE", {"text": f"question {turn}: where is word_count?",
                                      "role": "user"}, turn=turn)
            log.emit("ROUTE_DECISION", {"route": "qa", "experts": ["retrieval"],
                                        "reasoning": "a question", "source": "llm",
                                        "latency_ms": 3.0})
            log.emit("EXPERT_PACKET", {"expert": "retrieval", "chars": 80, "evidence": True,
                                       "citations": ["textstats.py:11"], "text": "def f(): ..."})
            log.emit("MODEL_ROUTING_DECISION", {"role": "coder", "model": "m:7b", "host": "h",
                                                "reason": "config", "call_id": f"llm-{turn}",
                                                "num_ctx": 8192})
            totals = {"prompt_tokens": totals["prompt_tokens"] + 900,
                      "completion_tokens": totals["completion_tokens"] + 60}
            log.emit("TOKEN_USAGE", {"role": "coder", "model": "m:7b", "prompt_tokens": 900,
                                     "completion_tokens": 60, "source": "ollama",
                                     "session": totals, "call_id": f"llm-{turn}",
                                     "num_ctx": 8192})
            log.emit("ASSISTANT_MESSAGE", {
                "text": f"Answer {turn}: `word_count` is in **textstats.py:11**.\n\n```python\n"
                        "def word_count(text):\n    return len(text.split())\n```\n",
                "role": "coder", "model": "m:7b"})


async def until_ready(app: Any) -> float:
    start = time.perf_counter()
    async with app.run_test(size=(140, 45)) as pilot:
        while app.session is None:
            await pilot.pause(0.01)
        return time.perf_counter() - start


def main() -> None:
    from tests.ui.harness import make_app, workspace
    from tests.ui.test_workbench_pilot import QA

    for turns in (30, 200, 600):
        base = Path(tempfile.mkdtemp(prefix="sage-bench-resume-"))
        try:
            os.environ["SAGE_HOME"] = str(base / "home")
            root = workspace(base / "repo")
            fresh = asyncio.run(until_ready(make_app(root, QA, session_id="fresh")))
            synthetic_log(base / "home" / "data" / "sessions", "long", root, turns)
            continued = asyncio.run(until_ready(make_app(root, QA, session_id="long")))
            print(f"{turns:>4} turns: fresh {fresh:6.2f} s, continued {continued:6.2f} s, "
                  f"ratio {continued / fresh:5.2f}x (target <= 3x at 600 turns)")
        finally:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
