"""The retrieval index's storage: SQLite's FTS5 with `bm25()` ranking, one row per file.

Why SQLite: it is in the standard library (no native wheel to ship), FTS5 keeps an
inverted index on disk and ranks with BM25 in C, and one file in SAGE's trusted state
folder survives between processes, so a new `sage run` searches at once instead of
re-reading the workspace. A file's row is keyed by what identifies its content without
reading it: git's blob id for a tracked, unmodified file, else its mtime, ctime and size.

The body column holds the identifier-aware terms `retrieval.terms` makes (whole
identifiers and their snake/camel-case parts), so FTS5's own tokenizer only has to
split on spaces. The schema version lives in `PRAGMA user_version`; another version,
or a file SQLite cannot read, is thrown away and rebuilt: the index is a cache. So is a file
with this version but other tables, one SQLite finds damaged only while using it, and one
whose rows come back as the schema never writes them (a match without a score, a path
twice): damage SQLite's own checks did not see.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

SCHEMA_VERSION = 1
BUSY_SECONDS = 60.0  # another SAGE process may be building the same index
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
    " key TEXT NOT NULL, indexed INTEGER NOT NULL)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(path, body,"
    " tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")",
)


class ForeignIndex(sqlite3.DatabaseError):
    """The file has this schema's version but not its tables: not an index SAGE made."""


class DamagedRows(sqlite3.DatabaseError):
    """A row read back holds what the schema never writes (no path, no score): a damaged
    page SQLite itself did not notice."""


def damaged(exc: BaseException) -> bool:
    """Whether `exc` says the file is not a sound index (rebuilding it is the cure). A
    constraint broken is damage too: SAGE's own writes never conflict with a sound index
    (`put` removes first). So is an error message Python cannot decode: SQLite quoting a
    damaged schema page."""
    if isinstance(exc, UnicodeDecodeError):
        return True
    name = getattr(exc, "sqlite_errorname", "")
    return (isinstance(exc, (ForeignIndex, DamagedRows)) or name == "SQLITE_NOTADB"
            or name.startswith(("SQLITE_CORRUPT", "SQLITE_CONSTRAINT")))


class IndexStore:
    """One workspace's index in SQLite (a file, or memory when `path` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.note = ""  # one sentence when the index could not be kept on disk
        self._rebuilt = False
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._prepare(_connect(":memory:"))
        for attempt in range(2):
            try:
                return self._prepare(_connect(self.path))
            except (sqlite3.DatabaseError, UnicodeDecodeError, OSError) as exc:  # torn, no room
                bad = not isinstance(exc, OSError) and damaged(exc)
                if attempt == 0 and bad and _remove(self.path):
                    continue  # a cache: start it again (never when it is only busy)
                reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                          else "damaged" if bad else exc)
                self.note = (f"the index could not be kept in {self.path} ({reason}), "
                             "so it is rebuilt in memory in every process")
                break
        return self._prepare(_connect(":memory:"))

    def _prepare(self, db: sqlite3.Connection) -> sqlite3.Connection:
        try:  # a sound index is only read, so opening it never waits for another's build
            for begin in ("BEGIN", "BEGIN IMMEDIATE"):
                db.execute(begin)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version == SCHEMA_VERSION or begin == "BEGIN IMMEDIATE":
                    break
                db.commit()
            if version != SCHEMA_VERSION:  # under the write lock: never undone by another
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS docs")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if _schema(db) != _fresh_schema():  # FTS5's own tables and indexes included
                raise ForeignIndex("the file holds other tables than the index's")
            db.execute("SELECT count(*) FROM docs").fetchone()  # reads the FTS5 tables once
            db.commit()
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            db.close()
            raise
        return db

    def close(self) -> None:
        self.db.close()

    def rebuild(self) -> None:
        """Start again from nothing: SQLite found the file damaged while using it (a lost
        page, a copy cut short). A second time in one process, the index stays in memory."""
        self.db.close()
        if self.path is not None and not self._rebuilt and _remove(self.path):
            self._rebuilt = True
            self.db = self._open()
            return
        self.to_memory(f"the index in {self.path} was damaged again")

    def to_memory(self, why: str) -> None:
        """Keep the index in memory for this process, saying `why` (one clause)."""
        self.db.close()
        self.note = f"{why}, so this process keeps the index in memory"
        self.path = None
        self.db = self._open()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction, taken before anything is compared, so a second process
        building the same index waits and then finds the work done."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    def checkpoint(self) -> None:
        """Commit what is done so far and carry on (a long build keeps its progress)."""
        self.db.commit()
        self.db.execute("BEGIN IMMEDIATE")

    def keys(self) -> dict[str, tuple[str, bool]]:
        """path → (content key, indexed) for every file the index knows."""
        known: dict[str, tuple[str, bool]] = {}
        for path, key, indexed in self.db.execute("SELECT path, key, indexed FROM files"):
            if not isinstance(path, str) or not isinstance(key, str) or path in known:
                raise DamagedRows("a file's row has no path or key, or a path has two rows")
            known[path] = (key, bool(indexed))
        return known

    def put(self, path: str, key: str, body: str | None, path_terms: str) -> None:
        """Record `path` with its content key; `body` None means skipped (binary, too large)."""
        self.remove(path)
        cursor = self.db.execute("INSERT INTO files (path, key, indexed) VALUES (?, ?, ?)",
                                 (path, key, body is not None))
        if body is not None:
            self.db.execute("INSERT INTO docs (rowid, path, body) VALUES (?, ?, ?)",
                            (cursor.lastrowid, path_terms, body))

    def remove(self, path: str) -> None:
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is not None:
            self.db.execute("DELETE FROM docs WHERE rowid = ?", (row[0],))
            self.db.execute("DELETE FROM files WHERE id = ?", (row[0],))

    def rank(self, wanted: Iterable[str], limit: int) -> list[tuple[str, float]]:
        """The best files for any of `wanted` (terms of [a-z0-9_]), best first, with scores."""
        match = " OR ".join(f'"{term}"' for term in wanted)
        if not match:
            return []
        rows = self.db.execute(
            "SELECT files.path, bm25(docs) AS rank FROM docs JOIN files ON files.id = docs.rowid"
            " WHERE docs MATCH ? ORDER BY rank, files.path LIMIT ?", (match, limit))
        ranked: list[tuple[str, float]] = []
        seen: set[str] = set()
        for path, rank in rows:
            if not isinstance(path, str) or not isinstance(rank, float) or path in seen:
                raise DamagedRows("a match came back without a path or a score, or twice")
            seen.add(path)
            ranked.append((path, -rank))
        return ranked


def _schema(db: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return sorted(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))


@functools.cache
def _fresh_schema() -> list[tuple[str, str, str, str | None]]:
    """Every table and index SQLite makes for the schema (FTS5 adds its own), as its
    `sqlite_master` lists them: what a sound index file holds, nothing else."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in _SCHEMA:
            db.execute(statement)
        return _schema(db)
    finally:
        db.close()


def _connect(where: Path | str) -> sqlite3.Connection:
    if isinstance(where, Path):
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(where, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o600)  # never a planted link; private, like the rest of the state folder
        os.close(fd)
    db = sqlite3.connect(where, timeout=BUSY_SECONDS, isolation_level=None,
                         check_same_thread=False)  # searches run in worker threads, one at a time
    db.text_factory = _text  # a damaged page's bytes are a name no file has, not an error
    try:
        try:  # WAL: readers in other processes never wait (a setting the file keeps)
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise  # busy: another process is setting the file up, in WAL already
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _remove(path: Path) -> bool:
    removed = False
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
            removed = True
    return removed
