"""The history dialog in a real (offscreen) window over a real store: the list newest first, search with the
match highlighted, a conversation shown read-only, export through the file dialog, delete with confirmation,
Continue, and Ctrl+N."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop.app.controller import Controller
from desktop.app.history_recorder import HistoryRecorder
from desktop.history.models import StoredItem
from desktop.history.store import HistoryStore
from desktop.ui.history_view import MATCH_STYLE, HistoryDialog
from desktop.ui.main_window import MainWindow
from tests.support.app_harness import TEST_KEY, make_controller, settings_in, until
from tests.support.realtime_server import RealtimeTestServer

Scene = Callable[[MainWindow, HistoryRecorder], Awaitable[None]]


def fill(store: HistoryStore) -> list[str]:
    """Three conversations, oldest first; returns their ids."""
    ids = []
    talks = [("Tell me about volcanoes", "Volcanoes are openings in the crust."),
             ("How do I bake bread?", "Mix flour, water, salt and yeast, then wait."),
             ("Plan a trip to Lisbon", "Start in Alfama, then take tram 28 up the hill.")]
    for n, (question, answer) in enumerate(talks):
        cid = f"conv{n}"
        ids.append(cid)
        store.begin(cid, "openai", "gpt-realtime", started=time.time() - 3600 * (3 - n))
        store.record(cid, StoredItem(f"u{n}", "user", "message", question, created=time.time(), done=True))
        store.record(cid, StoredItem(f"a{n}", "assistant", "message", answer, created=time.time(), done=True))
        store.set_usage(cid, 0.01 * (n + 1), {"responses": 1})
    return ids


def run_scene(qloop: asyncio.Runner, tmp_path: Path, scene: Scene, url: str | None = None,
              **settings: object) -> None:
    async def whole() -> None:
        controller: Controller = make_controller(url, settings_in(tmp_path, **settings), audio=False)
        recorder = HistoryRecorder(controller, HistoryStore(tmp_path / "history.sqlite3"))
        window = MainWindow(controller)
        window.attach_history(recorder)
        window.show()
        if url is not None:
            await controller.start()
            await controller.wait_ready()
            await until(lambda: controller.turn_state == "idle", what="session ready")
        try:
            await scene(window, recorder)
        finally:
            if window.history.dialog is not None:
                window.history.dialog.close()
            await controller.aclose()
            await recorder.aclose()
            window.close()
            window.deleteLater()

    qloop.run(whole())


async def opened(window: MainWindow, count: int) -> HistoryDialog:
    window.history.button.click()
    dialog = window.history.dialog
    assert dialog is not None and dialog.isVisible()
    await until(lambda: dialog.conversations.count() == count, what=f"{count} conversations listed")
    return dialog


def test_list_search_open_and_export(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path) -> None:
    async def scene(window: MainWindow, recorder: HistoryRecorder) -> None:
        ids = fill(recorder.store)
        dialog = await opened(window, 3)
        rows = [dialog.conversations.item(i) for i in range(3)]
        assert [r.data(Qt.ItemDataRole.UserRole) for r in rows] == ids[::-1], "newest first"
        assert rows[0].text().startswith("Plan a trip to Lisbon\n") and "2 messages · $0.030" in rows[0].text()
        assert not dialog.continue_button.isEnabled()

        window.controller.transcript_updated.emit("live1", "user", "Said while the history is open", True)
        await until(lambda: dialog.conversations.count() == 4, what="the conversation going on listed")
        assert dialog.conversations.item(0).text().startswith("Said while the history is open")
        dialog.conversations.setCurrentRow(2)
        await until(lambda: dialog.shown_id == ids[1], what="conversation shown")
        assert "Mix flour, water, salt and yeast" in dialog.transcript.plain_text()
        assert dialog.transcript.isReadOnly() and dialog.continue_button.isEnabled()

        QTest.keyClicks(dialog.search, "tram")
        await until(lambda: dialog.results.isVisible() and dialog.results.count() == 1, what="search results")
        assert f"<span style='{MATCH_STYLE}'>tram</span>" in dialog.result_html()[0]
        dialog.results.setCurrentRow(0)
        await until(lambda: dialog.shown_id == ids[2], what="hit opened")

        target = tmp_path / "out.md"
        file_dialog = dialog.ask_export("markdown")
        file_dialog.selectFile(str(target))
        file_dialog.accept()
        await until(target.exists, what="markdown written")
        assert target.read_text().startswith("# Plan a trip to Lisbon")
        await dialog.export_to(tmp_path / "out.json", "json")
        assert json.loads((tmp_path / "out.json").read_text())["items"][1]["text"].startswith("Start in Alfama")
        await dialog.export_to(tmp_path / "no-such-folder" / "x.json", "json")
        assert "Could not export" in dialog.status.text(), "a failed export says so and the view stays up"

    run_scene(qloop, tmp_path, scene)


def test_delete_one_and_all_after_confirmation(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path) -> None:
    async def scene(window: MainWindow, recorder: HistoryRecorder) -> None:
        ids = fill(recorder.store)
        dialog = await opened(window, 3)
        dialog.conversations.setCurrentRow(0)
        await until(lambda: dialog.shown_id == ids[2], what="shown")
        box = dialog.ask_delete()
        assert box is not None
        box.button(QMessageBox.StandardButton.Cancel).click()
        await asyncio.sleep(0.05)
        assert len(await recorder.store.list()) == 3, "cancel keeps it"
        box = dialog.ask_delete()
        assert box is not None
        box.button(QMessageBox.StandardButton.Yes).click()
        await until(lambda: dialog.conversations.count() == 2, what="one deleted")
        assert dialog.shown_id is None and not dialog.delete_button.isEnabled()

        dialog.delete_all_button.click()
        assert dialog.confirm_box is not None and dialog.confirm_box.isVisible()
        dialog.confirm_box.button(QMessageBox.StandardButton.Yes).click()
        await until(lambda: dialog.conversations.count() == 0 and "empty" in dialog.status.text(),
                    what="all deleted")
        assert await recorder.store.count() == 0

    run_scene(qloop, tmp_path, scene)


def test_continue_shows_the_conversation_and_replays_it(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path,
                                                        realtime_server: RealtimeTestServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    async def scene(window: MainWindow, recorder: HistoryRecorder) -> None:
        ids = fill(recorder.store)
        dialog = await opened(window, 3)
        dialog.conversations.setCurrentRow(2)
        await until(lambda: dialog.shown_id == ids[0], what="shown")
        dialog.continue_button.click()
        await until(lambda: recorder.current == ids[0], what="continued")
        await until(lambda: sum(e["type"] == "conversation.item.create" for e in realtime_server.received) == 2,
                    what="text replayed")
        texts = [e["item"]["content"][0]["text"] for e in realtime_server.received
                 if e["type"] == "conversation.item.create"]
        assert texts == ["Tell me about volcanoes", "Volcanoes are openings in the crust."]
        assert window.history.dialog is None or not window.history.dialog.isVisible()
        shown = window.transcript.plain_text()
        assert "Tell me about volcanoes" in shown and "Continued from the history" in shown

        window.activateWindow()
        await until(window.isActiveWindow, what="window active")
        QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: recorder.current is None and "volcanoes" not in window.transcript.plain_text(),
                    what="new conversation")

        dialog = await opened(window, 3)
        dialog.conversations.setCurrentRow(0)
        await until(lambda: dialog.shown_id == ids[2], what="shown")
        dialog.continue_button.click()
        await until(lambda: recorder.current == ids[2] and "tram 28" in window.transcript.plain_text(),
                    what="continued again")
        dialog = await opened(window, 3)
        dialog.new_button.click()
        await until(lambda: recorder.current is None and "tram 28" not in window.transcript.plain_text(),
                    what="new conversation from the history view")

    run_scene(qloop, tmp_path, scene, url=realtime_server.url)
    assert realtime_server.violations == []


def test_the_view_says_when_keeping_a_history_is_off(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path) -> None:
    async def scene(window: MainWindow, recorder: HistoryRecorder) -> None:
        fill(recorder.store)
        dialog = await opened(window, 3)
        await until(lambda: "off" in dialog.status.text(), what="status says history is off")
        assert "nothing new is written" in dialog.status.text()

    run_scene(qloop, tmp_path, scene, keep_history=False)
