"""Attacks on the persistent retrieval index: a turn cancelled mid-build, names git cannot
give and Python cannot store, an index file damaged where opening it does not look, a file
of one enormous identifier, an edit that keeps the file's size and mtime, and a file saved
between the refresh and its citation, and a process that opens the index while another
holds it for a long build."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import string
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from sage_tui.core.agent.experts import Experts
from sage_tui.core.agent.memory import MemoryStore
from sage_tui.core.log.events import Event, EventName
from sage_tui.core.workspace import indexstore
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


# Damage is drawn from seeded streams, so every run tries the same copies. Anywhere in the
# file: the first 30, and three that broke the search before rows were checked on the way
# out (a match without a score, 819; a path with two rows after SQLite's unique index lost
# a page, 1105 and 1370), found among 1,500 seeds. In the first ten pages (the schema):
# the first 10, and two whose damaged schema made SQLite's error message undecodable
# (458, 642), found among 3,000 seeds.
DAMAGE_SEEDS = (*range(30), 819, 1105, 1370)
SCHEMA_DAMAGE_SEEDS = (*range(10), 458, 642)


def _damaged_copies(tmp_path: Path, root: Path) -> list[Path]:
    base = tmp_path / "base.sqlite3"
    RetrievalIndex(Workspace([root]), base).refresh()
    with sqlite3.connect(base) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = base.stat().st_size
    copies = []
    # a disk that lost a page, a copy cut short and glued back
    for name, seeds, lowest, highest, sizes in (
            ("damage", DAMAGE_SEEDS, 4096, size - 4096, [16, 512, 4096]),
            ("page", SCHEMA_DAMAGE_SEEDS, 100, 4096 * 10, [1, 16, 512])):
        for seed in seeds:
            chance = random.Random(f"{name}-{seed}")
            copy = tmp_path / f"{name}{seed}.sqlite3"
            shutil.copy(base, copy)
            with open(copy, "r+b") as handle:
                handle.seek(chance.randrange(lowest, highest))
                handle.write(chance.randbytes(chance.choice(sizes)))
            copies.append(copy)
    return copies


def test_an_index_damaged_inside_is_rebuilt_not_a_failed_turn(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {
        f"m{i}.py": f"def run_server_{i}(port):\n" + "".join(f"word{j}_{i} = 1\n" for j in range(50))
        for i in range(300)})
    for copy in _damaged_copies(tmp_path, root):
        (root / "m7.py").write_text(f"def run_server_7(port):\n    return {copy.name!r}\n")
        hits, health = RetrievalIndex(Workspace([root]), copy).search("run_server_7 word3_9")
        assert health.files == 300, copy.name
        assert [h.citation for h in hits][:1] in (["m7.py:1"], ["m9.py:4"]), copy.name


def _renamed_fts_column(db: sqlite3.Connection) -> None:
    # one byte of FTS5's own table's definition changed, as a damaged schema page leaves it
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = replace(sql, 'segid', 'segie')"
               " WHERE name = 'docs_idx'")


def _files_row_lost(db: sqlite3.Connection) -> None:
    # a torn leaf page of `files`: its last row gone, that file's text still in `docs`
    db.execute("DELETE FROM files WHERE id = (SELECT max(id) FROM files)")


@pytest.mark.parametrize("damage", [_renamed_fts_column, _files_row_lost])
def test_damage_sqlite_reports_as_an_error_is_rebuilt_too(tmp_path: Path, damage: object) -> None:
    # Neither is SQLITE_CORRUPT: "SQL logic error" from FTS5's renamed column, a broken
    # constraint when the next refresh writes the lost file again. Both failed every later
    # turn until the index was deleted by hand.
    root = git_repo(tmp_path / "repo", {"a.py": "def run_server(port):\n    pass\n",
                                        "b.py": "x = 1\n"})
    where = tmp_path / "index.sqlite3"
    RetrievalIndex(Workspace([root]), where).refresh()
    with sqlite3.connect(where) as db:
        damage(db)  # type: ignore[operator]
    (root / "b.py").write_text("def run_server_again(port):\n    pass\n")
    for _ in range(2):  # and the next process finds a sound index
        hits, health = RetrievalIndex(Workspace([root]), where).search("run_server")
        assert health.files == 2 and {h.citation for h in hits} == {"a.py:1", "b.py:1"}


def _same_version_other_columns(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE files (a, b)")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(x)")


def _no_files_table(db: sqlite3.Connection) -> None:
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(path, body)")


def _docs_not_fts(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
               " key TEXT NOT NULL, indexed INTEGER NOT NULL)")
    db.execute("CREATE TABLE docs (path, body)")


def _views(db: sqlite3.Connection) -> None:
    db.execute("CREATE VIEW files AS SELECT 1 AS id, 'x' AS path, 'k' AS key, 1 AS indexed")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(path, body)")


@pytest.mark.parametrize("plant", [_same_version_other_columns, _no_files_table, _docs_not_fts,
                                   _views])
def test_a_foreign_database_with_the_schema_version_is_rebuilt(tmp_path: Path, plant: object
                                                                 ) -> None:
    root = git_repo(tmp_path / "repo", {"server.py": "def run_server(port):\n    bind(port)\n",
                                        "README.md": "# the app\n"})
    store = tmp_path / "index.sqlite3"
    with sqlite3.connect(store) as db:
        plant(db)  # type: ignore[operator]
        db.execute("PRAGMA user_version = 1")
    hits, health = RetrievalIndex(Workspace([root]), store).search("run_server")
    assert [h.citation for h in hits] == ["server.py:1"]
    assert (health.files, health.note) == (2, "")


def test_an_index_row_whose_bytes_are_not_text_does_not_stop_the_refresh(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {"server.py": "def run_server(port):\n    bind(port)\n"})
    store = tmp_path / "index.sqlite3"
    RetrievalIndex(Workspace([root]), store).refresh()
    with sqlite3.connect(store) as db:  # what a damaged page looks like to a query
        db.execute("INSERT INTO files (path, key, indexed) VALUES"
                   " (CAST(X'7365727665ff2e7079' AS TEXT), 'stat:1:1', 0)")
    hits, health = RetrievalIndex(Workspace([root]), store).search("run_server")
    assert [h.citation for h in hits] == ["server.py:1"] and (health.files, health.note) == (1, "")


def test_a_file_of_one_enormous_identifier_per_file_does_not_pile_up_in_memory(
        tmp_path: Path) -> None:
    chance = random.Random(2)
    root = git_repo(tmp_path / "repo", {
        f"blob{i}.txt": "".join(chance.choices(string.ascii_letters, k=100_000)) for i in range(8)})
    index = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3")
    tracemalloc.start()
    try:
        index.refresh()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 1024 * 1024  # each file's giant word and its parts (~1 MB a file) are let go


def test_an_edit_that_keeps_size_and_mtime_is_found_and_never_cited_by_an_unrelated_line(
        tmp_path: Path) -> None:
    root = tmp_path / "plain"  # untracked files: their key is what stat says
    root.mkdir()
    notes = root / "notes.txt"
    notes.write_text("deploy with zanzibar\nthen wait\n")
    (root / "other.txt").write_text("nothing here\n")
    index = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3")
    assert [h.citation for h in index.search("zanzibar")[0]] == ["notes.txt:1"]
    before = notes.stat()
    notes.write_text("then wait\ndeploy with kumquats\n")  # same size: cp -p, rsync -t, tar
    os.utime(notes, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert [h.citation for h in index.search("kumquats")[0]] == ["notes.txt:2"]
    assert index.search("zanzibar")[0] == []  # never "notes.txt:1: then wait"


class SavedWhileRead(Workspace):
    """An editor saves `notes.txt` right after the index has read it."""

    def read_bytes(self, path: str, limit: int | None = None, *,
                   honour_hidden: bool = True) -> bytes:
        data = super().read_bytes(path, limit, honour_hidden=honour_hidden)
        if path == "notes.txt" and b"zanzibar" in data:
            (self.root / path).write_text("then wait\ndeploy with kumquats\n")
        return data


def test_a_file_saved_between_the_refresh_and_its_citation_is_not_cited_by_another_line(
        tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "notes.txt").write_text("deploy with zanzibar\nthen wait\n")
    hits, _ = RetrievalIndex(SavedWhileRead([root]), tmp_path / "i.sqlite3").search("zanzibar")
    assert hits == []  # not "notes.txt:1: then wait"


_SLOW_BUILD = """
import sys, time
from pathlib import Path
from sage_tui.core.workspace.retrieval import RetrievalIndex
from sage_tui.core.workspace.workspace import Workspace

class Slow(Workspace):
    def read_bytes(self, path, limit=None, *, honour_hidden=True):
        time.sleep(0.02)
        return super().read_bytes(path, limit, honour_hidden=honour_hidden)

def started(done, total):
    if done == 0:
        print("building", flush=True)

RetrievalIndex(Slow([Path(sys.argv[1])]), Path(sys.argv[2])).refresh(started)
"""


def test_a_process_opening_the_index_during_anothers_long_build_keeps_using_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = git_repo(tmp_path / "repo", {f"m{i}.py": f"value_{i} = {i}\n" for i in range(150)})
    store = tmp_path / "index.sqlite3"
    RetrievalIndex(Workspace([root]), store).refresh()
    for i in range(150):  # a branch switch: every file to read again, for seconds
        (root / f"m{i}.py").write_text(f"value_{i} = {i + 1}\n")
    builder = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, str(root), str(store)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout is not None and builder.stdout.readline() == "building\n"
        monkeypatch.setattr(indexstore, "BUSY_SECONDS", 0.5)  # the build outlasts the wait
        index = RetrievalIndex(Workspace([root]), store)
        hits, health = index.search("value_7")
    finally:
        builder.wait(timeout=60)
    assert hits and health.read == 0 and "another SAGE process" in health.note
    hits, health = index.search("value_7")  # the build is done: the file has it all
    assert (health.read, health.files, health.note) == (0, 150, "")
