"""Migrations from the first schema version on: a version-1 file with data is opened by today's store."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from desktop.history import schema
from desktop.history.store import HistoryStore


def _write_v1(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(db, target=1) == 0
    db.execute("INSERT INTO conversations(id, started, updated, title, backend, model, cost) "
               "VALUES ('old', 100.0, 200.0, 'An old chat', 'openai', 'gpt-realtime', 0.5)")
    db.execute("INSERT INTO items(conversation, item_id, role, kind, text, created, done) "
               "VALUES ('old', 'u1', 'user', 'message', 'Tell me about volcanoes in Iceland', 101.0, 1)")
    db.execute("INSERT INTO items(conversation, item_id, role, kind, text, heard, unheard, created, done) "
               "VALUES ('old', 'a1', 'assistant', 'message', 'Iceland has many volcanoes.', 'Iceland has', "
               "' many volcanoes.', 102.0, 1)")
    db.close()


def test_version_one_file_is_migrated_with_its_data_searchable(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _write_v1(path)
    store = HistoryStore(path)
    try:
        record = asyncio.run(store.open("old"))
        hits = asyncio.run(store.search("volcanoes"))
    finally:
        store.close()
    assert record is not None
    assert record.summary.title == "An old chat" and record.summary.cost == 0.5
    assert [i.item_id for i in record.items] == ["u1", "a1"]
    assert record.items[1].heard == "Iceland has"
    assert record.usage == {}, "the column added in version 2 has its default"
    assert sorted(h.item_id for h in hits) == ["a1", "u1"], "version 2 indexed the rows written by version 1"
    db = sqlite3.connect(path)
    assert schema.version(db) == schema.VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_new_file_starts_at_the_newest_version(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "new.sqlite3", isolation_level=None)
    assert schema.migrate(db) == 0
    assert schema.version(db) == schema.VERSION
    assert schema.migrate(db) == schema.VERSION, "migrating again changes nothing"
    db.close()


def test_a_failed_step_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite3.connect(tmp_path / "h.sqlite3", isolation_level=None)
    schema.migrate(db, target=1)
    monkeypatch.setattr(schema, "MIGRATIONS", (schema.MIGRATIONS[0], "CREATE TABLE half (x);\nNOT SQL AT ALL;"))
    monkeypatch.setattr(schema, "VERSION", 2)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(db)
    assert schema.version(db) == 1
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    db.close()


def test_a_file_from_a_newer_parley_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "h.sqlite3", isolation_level=None)
    db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    with pytest.raises(schema.NewerSchemaError):
        schema.migrate(db)
    db.close()
