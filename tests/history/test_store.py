"""The history store on a real SQLite file: round trip, search with highlight, deletion that really deletes,
and a writer thread the caller never waits on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from desktop.history.models import MATCH_END, MATCH_START, StoredItem
from desktop.history.store import HistoryStore, fts_query, new_conversation_id


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _message(item_id: str, role: str, text: str, **fields) -> StoredItem:  # type: ignore[no-untyped-def]
    return StoredItem(item_id, role, "message", text, created=time.time(), done=True, **fields)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = HistoryStore(tmp_path / "history.sqlite3")
    yield s
    s.close()


def test_round_trip_keeps_every_field_and_the_order(store: HistoryStore) -> None:
    cid = new_conversation_id()
    store.begin(cid, "openai", "gpt-realtime")
    store.record(cid, StoredItem("u1", "user", created=1.0))  # added before its transcript arrives
    store.record(cid, _message("u1", "user", "What is the weather like in Lisbon today?"))
    store.record(cid, _message("a1", "assistant", "It is sunny and warm in Lisbon.",
                               heard="It is sunny", unheard=" and warm in Lisbon."))
    store.record(cid, StoredItem("c1", "assistant", "function_call", "get_time", arguments='{"zone": "UTC"}'))
    store.record(cid, StoredItem("c1", "assistant", "function_call", "get_time", arguments='{"zone": "UTC"}',
                                 output='{"time": "10:00"}', done=True))
    store.set_usage(cid, 0.0123, {"input_text": 10, "output_audio": 40})

    record = run(store.open(cid))
    assert record is not None
    assert [i.item_id for i in record.items] == ["u1", "a1", "c1"]
    user, answer, call = record.items
    assert user.text == "What is the weather like in Lisbon today?" and user.done
    assert user.created == 1.0, "an update keeps the time the item was first recorded"
    assert answer.heard == "It is sunny" and answer.unheard == " and warm in Lisbon."
    assert answer.spoken_text == "It is sunny"
    assert call.kind == "function_call" and call.arguments == '{"zone": "UTC"}' and call.output == '{"time": "10:00"}'
    assert record.summary.title == "What is the weather like in Lisbon today?"
    assert record.summary.backend == "openai" and record.summary.model == "gpt-realtime"
    assert record.summary.cost == pytest.approx(0.0123) and record.summary.items == 2
    assert record.usage == {"input_text": 10, "output_audio": 40}


def test_list_is_newest_first_with_title_from_first_words(store: HistoryStore) -> None:
    ids = []
    for n in range(3):
        cid = new_conversation_id()
        ids.append(cid)
        store.begin(cid, "offline", "local", started=1000.0 + n)
        store.record(cid, _message(f"u{n}", "user", f"conversation number {n} " + "word " * 30))
        run(store.flush())
    listed = run(store.list())
    assert [c.id for c in listed] == ids[::-1]
    assert listed[0].title.startswith("conversation number 2 word")
    assert len(listed[0].title) <= 60
    assert run(store.count()) == 3
    assert run(store.latest()).id == ids[-1]  # type: ignore[union-attr]


def test_search_finds_words_and_marks_the_match(store: HistoryStore) -> None:
    cid, other = new_conversation_id(), new_conversation_id()
    store.begin(cid, "openai", "gpt-realtime")
    store.begin(other, "openai", "gpt-realtime")
    store.record(cid, _message("u1", "user", "Remind me to buy bananas and apples at the market"))
    store.record(other, _message("u2", "user", "Tell me about the history of Portugal"))
    hits = run(store.search("banana"))  # a prefix of the last word matches while typing
    assert [(h.conversation_id, h.item_id) for h in hits] == [(cid, "u1")]
    assert f"{MATCH_START}bananas{MATCH_END}" in hits[0].snippet
    assert ("bananas", True) in hits[0].parts()
    assert run(store.search("history Portugal"))[0].conversation_id == other
    assert run(store.search("bananas Portugal")) == [], "every word is required"
    # FTS syntax typed by a user is taken literally, not as operators (no error, no injection)
    assert run(store.search('"NEAR( OR * ')) == []


def test_search_follows_updates_of_an_item(store: HistoryStore) -> None:
    cid = new_conversation_id()
    store.begin(cid, "openai", "m")
    store.record(cid, _message("a1", "assistant", "first draft about giraffes"))
    store.record(cid, _message("a1", "assistant", "final answer about elephants"))
    assert run(store.search("giraffes")) == []
    assert len(run(store.search("elephants"))) == 1


def test_fts_query_quotes_each_word() -> None:
    assert fts_query('say "hi" OR') == '"say" """hi""" "OR"*'
    assert fts_query("   ") == ""


def test_delete_one_leaves_the_others(store: HistoryStore) -> None:
    keep, drop = new_conversation_id(), new_conversation_id()
    for cid in (keep, drop):
        store.begin(cid, "openai", "m")
        store.record(cid, _message(f"u-{cid}", "user", f"unique words for {cid}"))
    run(store.delete(drop))
    assert [c.id for c in run(store.list())] == [keep]
    assert run(store.open(drop)) is None
    assert run(store.search(drop)) == []


def test_delete_all_really_deletes_and_shrinks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    secret_phrase = "zanzibar-marmalade-phrase"
    for n in range(300):
        cid = new_conversation_id()
        store.begin(cid, "openai", "m")
        store.record(cid, _message("u", "user", f"{secret_phrase} {n} " + "filler text " * 40))
    run(store.flush())
    size_before = _size(path)
    run(store.delete_all())
    assert run(store.list()) == [] and run(store.search(secret_phrase)) == []
    store.close()
    size_after = _size(path)
    assert size_after < size_before / 4, (size_before, size_after)
    for file in tmp_path.iterdir():  # the database, its WAL and shared memory: no trace of the text
        assert secret_phrase.encode() not in file.read_bytes(), file.name


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_writes_return_at_once_while_the_writer_is_busy(store: HistoryStore) -> None:
    """The GUI-side call only enqueues: with the writer thread held inside SQLite, writes still return."""
    cid = new_conversation_id()
    store.begin(cid, "openai", "m")
    run(store.flush())
    blocker = sqlite3.connect(store.path, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # the writer now waits on the lock (its busy timeout) for each write
    try:
        thread = threading.Thread(target=lambda: [store.record(cid, _message(f"i{n}", "user", f"text {n}"))
                                                  for n in range(200)])
        thread.start()
        thread.join(2.0)
        returned = not thread.is_alive()
    finally:
        blocker.rollback()
        blocker.close()
    assert returned, "recording blocked on the database"
    record = run(store.open(cid))
    assert record is not None and len(record.items) == 200, "writes queued behind the lock were all applied"


def test_a_damaged_file_is_reported_and_writes_do_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = HistoryStore(path)
    store.record("x", _message("u", "user", "lost but not crashing"))
    with pytest.raises(sqlite3.DatabaseError):
        run(store.list())
    store.close()
    assert store.failure is not None
    assert path.read_bytes().startswith(b"this is not a database"), "a damaged file is left as it was"


def test_a_reader_that_goes_away_does_not_stop_the_writer(store: HistoryStore) -> None:
    """The app closing cancels a task waiting on a read; the thread must go on (and close when asked)."""
    async def leave_early() -> None:
        task = asyncio.ensure_future(store.list())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    for _ in range(20):
        run(leave_early())
    cid = new_conversation_id()
    store.begin(cid, "openai", "m")
    store.record(cid, _message("u", "user", "still written after cancelled reads"))
    assert len(run(asyncio.wait_for(store.search("cancelled"), 20))) == 1, "the writer thread is alive"
    store.close()
    assert not store._thread.is_alive()


def test_a_failing_write_loses_only_itself(store: HistoryStore) -> None:
    cid = new_conversation_id()
    store.begin(cid, "openai", "m")
    store.record("no-such-conversation", _message("x", "user", "refused by the foreign key"))
    store.record(cid, _message("u", "user", "kept although the write before it failed"))
    record = run(store.open(cid))
    assert record is not None and [i.item_id for i in record.items] == ["u"]
    assert run(store.search("refused")) == []
