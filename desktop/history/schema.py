"""The database layout and its migrations, one step per version (PRAGMA user_version).

A database at version N is brought up to date by running steps N+1.. in order, each in one transaction, so a
crash during an upgrade leaves the previous version intact. Never edit a released step: add a new one.
"""

from __future__ import annotations

import sqlite3

# Version 1: conversations and their items.
_V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    cost REAL NOT NULL DEFAULT 0
);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'message',
    text TEXT NOT NULL DEFAULT '',
    heard TEXT,
    unheard TEXT NOT NULL DEFAULT '',
    arguments TEXT NOT NULL DEFAULT '',
    output TEXT,
    created REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation, item_id)
);
CREATE INDEX conversations_by_update ON conversations(updated DESC);
"""

# Version 2: usage per conversation, and full-text search over item text (kept in step by triggers).
_V2 = """
ALTER TABLE conversations ADD COLUMN usage TEXT NOT NULL DEFAULT '{}';
CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='id',
                                          tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO items_fts(items_fts) VALUES ('rebuild');
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
VERSION = len(MIGRATIONS)


class NewerSchemaError(RuntimeError):
    """The file was written by a newer Parley; opening it here could damage it."""


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, target: int = VERSION) -> int:
    """Brings the database to `target` (default: the newest); returns the version it started at.
    The connection must be in autocommit mode (isolation_level=None): each step is its own transaction."""
    start = current = version(db)
    if current > VERSION:
        raise NewerSchemaError(f"history database version {current} is newer than this Parley ({VERSION})")
    while current < target:
        step = MIGRATIONS[current]
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(step):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {current + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        current += 1
    return start


def _statements(script: str) -> list[str]:
    """Splits a step into statements; sqlite3.complete_statement keeps trigger bodies whole."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
