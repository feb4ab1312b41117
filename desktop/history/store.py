"""The history database: stdlib sqlite3 in WAL mode, owned by one writer thread.

The GUI thread never touches SQLite: writes are queued and return at once; reads are queued too and answered
through asyncio futures (`await store.list()`), in order with the writes before them. The thread takes what is
queued, applies it in one transaction and commits before waiting again, so a crash or SIGKILL loses at most
what was queued but not yet committed: in practice the item in flight (with WAL, a commit survives the
process being killed; synchronous=NORMAL risks only the last commits on a power cut).
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from desktop.history import schema
from desktop.history.models import (
    MATCH_END,
    MATCH_START,
    ConversationRecord,
    ConversationSummary,
    SearchHit,
    StoredItem,
    title_from,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 256  # operations per transaction at most, so one commit never waits on an endless burst
FILE_NAME = "history.sqlite3"


def default_path() -> Path:
    return Path(platformdirs.user_data_dir("parley", appauthor=False)) / FILE_NAME


def new_conversation_id() -> str:
    return uuid.uuid4().hex


@dataclass
class WriterStats:
    """For the bench: how many write operations the thread applied and the time it spent on them."""

    writes: int = 0
    seconds: float = 0.0
    commits: int = 0


@dataclass
class _Op:
    run: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any] | None = None
    alone: bool = False  # needs autocommit (VACUUM): runs outside the batch's transaction


_STOP = _Op(lambda db: None)


class HistoryStore:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.stats = WriterStats()
        self.failure: BaseException | None = None  # set when the database could not be opened
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="parley-history", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------- writes (return at once)

    def begin(self, conversation_id: str, backend: str, model: str, started: float | None = None) -> None:
        """A conversation exists from its first item on; beginning one twice keeps the first record."""
        when = time.time() if started is None else started
        self._put(_Op(lambda db: db.execute(
            "INSERT OR IGNORE INTO conversations(id, started, updated, backend, model) VALUES (?, ?, ?, ?, ?)",
            (conversation_id, when, when, backend, model))))

    def record(self, conversation_id: str, item: StoredItem) -> None:
        """Adds the item or updates it (same item_id): called when an item appears and again when it is done."""
        self._put(_Op(lambda db: _record(db, conversation_id, item)))

    def set_usage(self, conversation_id: str, cost: float, usage: dict[str, Any]) -> None:
        text = json.dumps(usage, sort_keys=True)
        self._put(_Op(lambda db: db.execute(
            "UPDATE conversations SET cost = ?, usage = ? WHERE id = ?", (cost, text, conversation_id))))

    def set_backend(self, conversation_id: str, backend: str, model: str) -> None:
        self._put(_Op(lambda db: db.execute(
            "UPDATE conversations SET backend = ?, model = ? WHERE id = ?", (backend, model, conversation_id))))

    # ------------------------------------------------------------------------------- reads (awaitable)

    async def list(self, limit: int = 200, offset: int = 0) -> builtins.list[ConversationSummary]:
        """Newest first."""
        return await self._ask(lambda db: _list(db, limit, offset))

    async def count(self) -> int:
        return await self._ask(lambda db: int(db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]))

    async def latest(self) -> ConversationSummary | None:
        rows = await self.list(limit=1)
        return rows[0] if rows else None

    async def search(self, text: str, limit: int = 50) -> builtins.list[SearchHit]:
        """Full-text search over item text, newest matches first (ranking every match by relevance costs tens of
        ms in a large history; the newest are what people look for); each hit's snippet marks the match."""
        query = fts_query(text)
        if not query:
            return []
        return await self._ask(lambda db: _search(db, query, limit))

    async def open(self, conversation_id: str) -> ConversationRecord | None:
        return await self._ask(lambda db: _open(db, conversation_id))

    async def delete(self, conversation_id: str) -> None:
        await self._ask(lambda db: db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)))

    async def delete_all(self) -> None:
        """Really deletes: every row, then VACUUM rewrites the file and the WAL is truncated."""
        await self._ask(_delete_all, alone=True)

    async def flush(self) -> None:
        """Returns once everything queued before it is committed."""
        await self._ask(lambda db: None)

    # ------------------------------------------------------------------------------- lifecycle

    def close(self, timeout: float = 5.0) -> None:
        """Commits what is queued and ends the thread (at exit; joins briefly)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # ------------------------------------------------------------------------------- plumbing

    def _put(self, op: _Op) -> None:
        if self._closed:
            log.debug("history closed: dropping a write")
            return
        self._queue.put(op)

    async def _ask(self, run: Callable[[sqlite3.Connection], T], alone: bool = False) -> T:
        if self._closed:
            raise RuntimeError("the history store is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Op(run, future, alone))
        return await asyncio.wrap_future(future)

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            db = connect(self.path)
        except Exception as exc:  # reads answer with it; the app keeps running without history
            log.error("history database unavailable (%s): %s", self.path, exc)
            self.failure = exc
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                try:
                    if not self._apply(db, batch):
                        return
                except Exception:  # never let one bad batch end the thread: later writes would queue forever
                    log.exception("history batch failed")
                    if _STOP in batch:
                        return
        finally:
            if db is not None:
                db.close()

    def _apply(self, db: sqlite3.Connection | None, batch: builtins.list[_Op]) -> bool:
        """Runs a batch in one transaction; answers its readers after the commit. False once told to stop."""
        answers: builtins.list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        started = time.perf_counter()
        writes = 0
        for op in batch:
            if op is _STOP:
                break
            if db is None:
                if op.future is not None:
                    answers.append((op.future, None, self.failure or RuntimeError("history unavailable")))
                continue
            try:
                if op.alone and db.in_transaction:
                    db.execute("COMMIT")
                elif not op.alone and not db.in_transaction:
                    db.execute("BEGIN")
                result, error = op.run(db), None
            except Exception as exc:
                log.exception("history operation failed")
                result, error = None, exc
            if op.future is not None:
                answers.append((op.future, result if not isinstance(result, sqlite3.Cursor) else None, error))
            else:
                writes += 1
        if db is not None and db.in_transaction:
            try:
                db.execute("COMMIT")
                self.stats.commits += 1
            except sqlite3.Error as exc:  # disk full, file removed: say so, keep the thread (and the app) alive
                log.error("history commit failed: %s", exc)
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                answers = [(future, None, exc) for future, _value, _problem in answers]
        self.stats.writes += writes
        self.stats.seconds += time.perf_counter() - started
        for future, value, problem in answers:
            if future.cancelled():  # its caller went away (the app closing): the work is done all the same
                continue
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled just now
                if problem is not None:
                    future.set_exception(problem)
                else:
                    future.set_result(value)
        return batch[-1] is not _STOP and _STOP not in batch


def connect(path: Path) -> sqlite3.Connection:
    """Opens (creating the folder and file), switches to WAL and migrates to the current schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten, not left in free pages
    schema.migrate(db)
    return db


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: each word quoted (no operator injection), all required, the last
    one as a prefix so results appear while typing."""
    words = [w.replace('"', '""') for w in text.split() if w.strip('"')]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _record(db: sqlite3.Connection, conversation_id: str, item: StoredItem) -> None:
    created = item.created or time.time()
    db.execute(
        """INSERT INTO items(conversation, item_id, role, kind, text, heard, unheard, arguments, output, created,
                             done)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(conversation, item_id) DO UPDATE SET role = excluded.role, kind = excluded.kind,
               text = excluded.text, heard = excluded.heard, unheard = excluded.unheard,
               arguments = excluded.arguments, output = excluded.output, done = excluded.done""",
        (conversation_id, item.item_id, item.role, item.kind, item.text, item.heard, item.unheard, item.arguments,
         item.output, created, int(item.done)),
    )
    title = item.text if item.kind == "message" and item.role == "user" else ""
    db.execute(
        "UPDATE conversations SET updated = max(updated, ?), title = CASE WHEN title = '' THEN ? ELSE title END "
        "WHERE id = ?",
        (time.time(), title_from(title), conversation_id),
    )


_SUMMARY = """SELECT c.id, c.started, c.updated,
       CASE WHEN c.title <> '' THEN c.title ELSE coalesce((SELECT substr(i.text, 1, 80) FROM items i
            WHERE i.conversation = c.id AND i.kind = 'message' AND i.text <> '' ORDER BY i.id LIMIT 1), '') END,
       c.backend, c.model, c.cost,
       (SELECT count(*) FROM items i WHERE i.conversation = c.id AND i.kind = 'message')
FROM conversations c"""


def _summary(row: tuple[Any, ...]) -> ConversationSummary:
    return ConversationSummary(row[0], row[1], row[2], title_from(row[3]), row[4], row[5], row[6], row[7])


def _list(db: sqlite3.Connection, limit: int, offset: int) -> list[ConversationSummary]:
    rows = db.execute(f"{_SUMMARY} ORDER BY c.updated DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
    return [_summary(row) for row in rows]


def _search(db: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    rows = db.execute(
        """SELECT i.conversation, c.title, c.updated, i.item_id, i.role,
                  snippet(items_fts, 0, ?, ?, '…', 12)
           FROM items_fts JOIN items i ON i.id = items_fts.rowid JOIN conversations c ON c.id = i.conversation
           WHERE items_fts MATCH ? ORDER BY items_fts.rowid DESC LIMIT ?""",
        (MATCH_START, MATCH_END, query, limit),
    ).fetchall()
    return [SearchHit(*row) for row in rows]


def _open(db: sqlite3.Connection, conversation_id: str) -> ConversationRecord | None:
    row = db.execute(f"{_SUMMARY} WHERE c.id = ?", (conversation_id,)).fetchone()
    if row is None:
        return None
    usage_text = db.execute("SELECT usage FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    items = db.execute(
        "SELECT item_id, role, kind, text, heard, unheard, arguments, output, created, done FROM items "
        "WHERE conversation = ? ORDER BY id", (conversation_id,)).fetchall()
    stored = tuple(StoredItem(item_id=i[0], role=i[1], kind=i[2], text=i[3], heard=i[4], unheard=i[5],
                              arguments=i[6], output=i[7], created=i[8], done=bool(i[9])) for i in items)
    try:
        usage = json.loads(usage_text)
    except ValueError:
        usage = {}
    return ConversationRecord(_summary(row), stored, usage if isinstance(usage, dict) else {})


def _delete_all(db: sqlite3.Connection) -> None:
    db.execute("BEGIN")
    db.execute("DELETE FROM items")
    db.execute("DELETE FROM conversations")
    db.execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")
    db.execute("COMMIT")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
