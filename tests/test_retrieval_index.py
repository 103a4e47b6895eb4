"""The retrieval index that persists: a new process searches at once, a checkout that only
touched mtimes reads nothing, a damaged or busy index never fails a turn, and text from a
message or a file cannot steer the index's queries."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sage_tui.core.workspace.retrieval import PROGRESS_FROM, RetrievalIndex
from sage_tui.core.workspace.workspace import Workspace
from tests.conftest import git_repo

FILES = {
    "src/app/cli.py": "import click\n\n@click.command()\ndef main(verbose: bool) -> None:\n"
                      "    run_server(port=8080)\n",
    "src/app/server.py": "def run_server(port: int) -> None:\n    bind(port)\n    serve_forever()\n",
    "README.md": "# App\nStart it with `app --verbose`.\n",
}


class Counting(Workspace):
    """A workspace that counts the file reads the index makes while refreshing."""

    def __init__(self, root: Path, hidden: object = None) -> None:
        super().__init__([root], hidden=hidden)  # type: ignore[arg-type]
        self.reads: list[str] = []

    def read_bytes(self, path: str, limit: int | None = None, *,
                   honour_hidden: bool = True) -> bytes:
        self.reads.append(path)
        return super().read_bytes(path, limit, honour_hidden=honour_hidden)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_a_new_process_finds_the_index_built_before(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    store = tmp_path / "state" / "index.sqlite3"
    first, health = RetrievalIndex(Workspace([root]), store).search("run_server port")
    assert health.read == 3 and first
    script = ("import sys; from pathlib import Path;"
              "from sage_tui.core.workspace.retrieval import RetrievalIndex;"
              "from sage_tui.core.workspace.workspace import Workspace;"
              "hits, h = RetrievalIndex(Workspace([Path(sys.argv[1])]), Path(sys.argv[2]))"
              ".search('run_server port');"
              "print(h.read, h.files, h.stale, *[x.citation for x in hits])")
    out = subprocess.run([sys.executable, "-c", script, str(root), str(store)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "3", "0", *[h.citation for h in first]]


def test_a_checkout_that_only_touches_mtimes_reads_nothing_and_a_branch_switch_reads_its_files(
        tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    store = tmp_path / "index.sqlite3"
    RetrievalIndex(Workspace([root]), store).refresh()
    for name in FILES:  # what a checkout, a rebase or a build tool does to mtimes
        os.utime(root / name, ns=(1_000_000_000, 1_000_000_000))
    workspace = Counting(root)
    health = RetrievalIndex(workspace, store).refresh()
    assert workspace.reads == [] and (health.read, health.stale, health.files) == (0, 0, 3)

    git(root, "checkout", "-q", "-b", "gateway")
    (root / "src/app/server.py").write_text("def run_server(port: int) -> None:\n"
                                            "    open_gateway(port)\n")
    git(root, "commit", "-qam", "gateway")
    git(root, "checkout", "-q", "-")
    git(root, "checkout", "-q", "gateway")
    workspace = Counting(root)
    hits, health = RetrievalIndex(workspace, store).search("open_gateway")
    assert health.read == 1 and health.stale == 1
    assert hits[0].citation == "src/app/server.py:2"


def test_edits_not_yet_committed_and_new_files_are_found(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    index = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3")
    index.refresh()
    (root / "src/app/server.py").write_text("def run_server(port: int) -> None:\n"
                                            "    listen_twice(port)\n")
    (root / "src/app/extra.py").write_text("def helper():\n    return listen_twice\n")
    hits, health = index.search("listen_twice")
    assert {h.citation for h in hits} == {"src/app/server.py:2", "src/app/extra.py:2"}
    assert health.read == 2 and health.files == 4
    (root / "src/app/extra.py").unlink()
    hits, health = index.search("listen_twice")
    assert [h.citation for h in hits] == ["src/app/server.py:2"] and health.files == 3


@pytest.mark.parametrize("damage", [b"", b"garbage, not a database" * 100,
                                    b"SQLite format 3\0" + b"\xff" * 4000])
def test_a_torn_or_foreign_index_file_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    store = tmp_path / "index.sqlite3"
    store.write_bytes(damage)
    hits, health = RetrievalIndex(Workspace([root]), store).search("run_server")
    assert hits and health.files == 3 and health.note == ""
    with sqlite3.connect(store) as db:  # what is there now is a sound index
        assert db.execute("SELECT count(*) FROM files").fetchone() == (3,)


def test_an_index_that_cannot_be_kept_on_disk_still_answers_and_says_so(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    hits, health = RetrievalIndex(Workspace([root]), blocker / "index.sqlite3").search("run_server")
    assert hits and health.files == 3
    assert "rebuilt in memory" in health.describe()


def test_two_processes_building_at_once_read_each_file_once(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n"
                                         for i in range(60)})
    store = tmp_path / "index.sqlite3"
    spaces = [Counting(root), Counting(root)]
    gate = threading.Barrier(2)
    results = []

    def build(space: Counting) -> None:
        gate.wait()
        results.append(RetrievalIndex(space, store).refresh())

    threads = [threading.Thread(target=build, args=(s,)) for s in spaces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(s.reads) for s in spaces) == [0, 60]
    assert [(h.files, h.note) for h in results] == [(60, ""), (60, "")]


@pytest.mark.parametrize("query", [
    '" OR "', "path:* NEAR(a b)", "'); DROP TABLE files; --", "run_server*", "^run", "NOT AND OR",
    "ünïcödé run_server", "a" * 5000, " ".join(f"t{i}" for i in range(500)),
])
def test_text_from_a_message_cannot_steer_the_index(tmp_path: Path, query: str) -> None:
    root = git_repo(tmp_path / "repo", FILES)
    index = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3")
    hits, health = index.search(query)
    assert health.files == 3 and all(h.path in FILES for h in hits)
    assert [h.citation for h in index.search("run_server")[0]][:1] == ["src/app/server.py:1"]


def test_a_file_full_of_query_syntax_is_only_text(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {**FILES, "evil.py": '" OR * NEAR( files:) ^ \\\n' * 50})
    hits, health = RetrievalIndex(Workspace([root]), tmp_path / "i.sqlite3").search("near files")
    assert health.files == 4 and [h.path for h in hits] == ["evil.py"]


def test_a_file_the_policy_hides_later_leaves_the_index(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo", {**FILES, "deploy/secrets.py": "TOKEN_run_server = 1\n"})
    store = tmp_path / "index.sqlite3"
    hits, _ = RetrievalIndex(Workspace([root]), store).search("run_server")
    assert "deploy/secrets.py" in {h.path for h in hits}
    hidden = RetrievalIndex(Workspace([root], hidden=lambda p: p.startswith("deploy/")), store)
    hits, health = hidden.search("run_server token")
    assert "deploy/secrets.py" not in {h.path for h in hits} and health.files == 3
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM files WHERE path LIKE 'deploy/%'").fetchone() == (0,)


def test_a_long_build_reports_its_progress_and_a_short_one_does_not(tmp_path: Path) -> None:
    count = PROGRESS_FROM + 20
    root = git_repo(tmp_path / "repo", {f"m{i:03}.py": f"value_{i} = {i}\n" for i in range(count)})
    seen: list[tuple[int, int]] = []
    index = RetrievalIndex(Workspace([root]), tmp_path / "index.sqlite3")
    index.search("value_7", progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, count) and seen[-1] == (count, count) and len(seen) <= 22
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    (root / "m001.py").write_text("value_1 = 2\n")
    seen.clear()
    index.search("value_1", progress=lambda done, total: seen.append((done, total)))
    assert seen == []
