"""Attacks on the persistent retrieval index: a turn cancelled mid-build, names git cannot
give and Python cannot store, an index file damaged where opening it does not look, a file
of one enormous identifier, and an edit that keeps the file's size and mtime."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from sage_tui.core.agent.experts import Experts
from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.log.events import Event, EventName
from sage_tui.core.workspace.retrieval import RetrievalIndex
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo


class Slow(Workspace):
    """A workspace on a slow disk: every read the index makes takes a few milliseconds."""

    def __init__(self, root: Path) -> None:
        super().__init__([root])
        self.reads = 0

    def read_bytes(self, path: str, limit: int | None = None, *,
                   honour_hidden: bool = True) -> bytes:
        time.sleep(0.005)
        self.reads += 1
        return super().read_bytes(path, limit, honour_hidden=honour_hidden)


def test_a_turn_cancelled_during_a_cold_build_stops_it_and_reports_nothing_after(
        tmp_path: Path) -> None:
    count = 300
    root = git_repo(tmp_path / "repo", {f"m{i:03}.py": f"value_{i} = {i}\n" for i in range(count)})
    space = Slow(root)
    events: list[Event | None] = []
    experts = Experts(root, None, events.append,  # type: ignore[arg-type]
                      MemoryStore(tmp_path / "m.json", tmp_path / "u.json"),
                      index=RetrievalIndex(space, tmp_path / "index.sqlite3"), files=space)

    async def turns() -> None:
        first = asyncio.create_task(experts.gather(["retrieval"], "value_7", route="chat"))
        while not any(e is not None and e.name == EventName.INDEX_PROGRESS for e in events):
            await asyncio.sleep(0.005)
        first.cancel()  # what Ctrl+C or Escape does to the turn
        with pytest.raises(asyncio.CancelledError):
            await first
        events.append(None)  # the turn has ended here
        await experts.gather(["retrieval"], "value_7", route="chat")  # the next turn

    asyncio.run(turns())
    after = [e.data for e in events[events.index(None) + 1:]
             if e is not None and e.name == EventName.INDEX_PROGRESS]
    # the abandoned build stopped at its next file, so the next turn had most files to read
    # and every progress record after the cancel is the next turn's own, counting from 0
    assert after and after[0]["done"] == 0 and after[0]["total"] > count - 50
    assert all(a["total"] == after[0]["total"] for a in after)


def test_a_file_name_that_is_not_utf8_outside_git_is_left_out(tmp_path: Path) -> None:
    root = tmp_path / "plain"  # no git: the walk lists the folder itself
    root.mkdir()
    (root / "server.py").write_text("def run_server(port):\n    return port\n")
    with open(os.path.join(os.fsencode(root), b"bad\xff name.py"), "wb") as handle:
        handle.write(b"run_server = None\n")
    hits, health = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3").search(
        "run_server")
    assert [h.citation for h in hits] == ["server.py:1"] and health.files == 1
