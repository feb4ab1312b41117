"""The tray icon and its menu in the real window (offscreen, where no tray is on screen, so the menu's actions are
triggered as the user's clicks would), muting, closing to the tray and starting hidden."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.app.controller import Controller
from desktop.app.mic_mute import MUTED_NOTICE
from desktop.app.secrets import KeyStore
from desktop.cli import Options
from desktop.ui.main_window import MainWindow
from desktop.ui.tray import STATES, Tray, state_icon, tray_state
from tests.support.app_harness import settings_in


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    controller = Controller(Options(), settings_in(tmp_path), KeyStore(), audio=False)
    win = MainWindow(controller)
    qtbot.addWidget(win)
    win.shell.first_show()
    yield win
    win.shell.quit()


@pytest.fixture
def tray_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a desktop with a tray (the offscreen platform has none); the icon itself is not shown here."""
    monkeypatch.setattr(Tray, "available", staticmethod(lambda: True))
    monkeypatch.setattr(Tray, "show", lambda self: None)
    monkeypatch.setattr(Tray, "message", lambda self, title, body: None)


def test_state_follows_the_controller_with_distinct_icons(window: MainWindow) -> None:
    tray = window.shell.tray
    assert tray.state == "offline"  # connecting
    colours = set()
    for turn_state, shown in (("idle", "idle"), ("listening", "listening"), ("thinking", "thinking"),
                              ("speaking", "speaking"), ("reconnecting", "offline"), ("error", "offline")):
        window.controller.turn_state_changed.emit(turn_state)
        assert tray.state == shown == tray_state(turn_state)
        assert tray.icon.toolTip() == f"Parley: {STATES[shown][1]}" == tray.status_action.text()
        image = tray.icon.icon().pixmap(64, 64).toImage()
        colours.add(image.pixelColor(6, 32).name())  # the badge's rim, inside the circle
    assert colours == {STATES[s][0] for s in STATES}


def test_muted_icon_is_struck_through() -> None:
    plain = state_icon("idle").pixmap(64, 64).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    muted = state_icon("idle", muted=True).pixmap(64, 64).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    assert plain.pixelColor(18, 18).name() != "#c62828" and muted.pixelColor(18, 18).name() == "#c62828"


def test_show_hide_action_toggles_the_window(window: MainWindow, qtbot: QtBot) -> None:
    tray = window.shell.tray
    assert window.isVisible() and tray.show_action.text() == "Hide Parley"
    tray.show_action.trigger()
    assert not window.isVisible() and tray.show_action.text() == "Show Parley"
    tray.show_action.trigger()
    assert window.isVisible() and tray.show_action.text() == "Hide Parley"


def test_mode_actions_switch_the_mode_both_ways(window: MainWindow) -> None:
    tray = window.shell.tray
    assert tray.mode_actions["push_to_talk"].isChecked()
    tray.mode_actions["server_vad"].trigger()
    assert window.controller.turn_mode() == "server_vad" and window.controller.settings.get("turn_mode") == "server_vad"
    assert window.mode_box.currentData() == "server_vad"
    window.mode_box.setCurrentIndex(window.mode_box.findData("push_to_talk"))  # the window's own box
    assert tray.mode_actions["push_to_talk"].isChecked() and not tray.mode_actions["server_vad"].isChecked()


def test_mute_drops_presses_says_why_and_pauses_hands_free(window: MainWindow, qtbot: QtBot) -> None:
    tray, controller = window.shell.tray, window.controller
    notices: list[str] = []
    controller.notice.connect(notices.append)
    controller.set_turn_mode("semantic_vad")
    tray.mute_action.trigger()
    assert window.shell.mute.muted and tray.mute_action.isChecked()
    assert tray.icon.toolTip().endswith("(microphone muted)")
    assert controller.turn_mode() == "push_to_talk", "hands-free stops listening while muted"
    window.talk_button.pressed.emit()
    assert notices == [MUTED_NOTICE] and not controller.talk_held
    window.talk_button.released.emit()
    tray.mute_action.trigger()
    assert not window.shell.mute.muted and controller.turn_mode() == "semantic_vad"
    window.talk_button.pressed.emit()
    assert controller.talk_held and notices == [MUTED_NOTICE]
    window.talk_button.released.emit()


def test_new_conversation_and_quit(window: MainWindow, qtbot: QtBot, tray_present: None) -> None:
    window.controller.settings.set("close_to_tray", True)
    with qtbot.waitSignal(window.new_conversation_requested, timeout=1000):
        window.shell.tray.new_action.trigger()
    with qtbot.waitSignal(window.closed, timeout=1000):
        window.shell.tray.quit_action.trigger()  # quits even though closing would only hide
    assert not window.isVisible()


def test_closing_hides_to_the_tray_with_a_one_time_notice(window: MainWindow, qtbot: QtBot,
                                                          tray_present: None) -> None:
    messages: list[tuple[str, str]] = []
    window.shell.message.connect(lambda title, body: messages.append((title, body)))
    closed: list[int] = []
    window.closed.connect(lambda: closed.append(1))
    window.close()
    assert not window.isVisible() and closed == [] and len(messages) == 1
    assert "still running in the tray" in messages[0][1]
    assert window.controller.settings.get("tray_notice_shown") is True
    window.shell.show_window()
    window.close()
    assert not window.isVisible() and len(messages) == 1, "the notice is shown once"
    window.controller.settings.set("close_to_tray", False)
    window.shell.show_window()
    window.close()
    assert closed == [1]


def test_without_a_tray_closing_closes(window: MainWindow) -> None:
    assert not Tray.available()  # offscreen: no tray, so hiding would strand the user
    closed: list[int] = []
    window.closed.connect(lambda: closed.append(1))
    window.close()
    assert closed == [1]


def test_start_hidden_only_with_a_tray(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    controller = Controller(Options(), settings_in(tmp_path, start_hidden=True), KeyStore(), audio=False)
    shown = MainWindow(controller)
    qtbot.addWidget(shown)
    shown.shell.first_show()
    assert shown.isVisible(), "no tray: starting hidden would leave no way in"
    monkeypatch.setattr(Tray, "available", staticmethod(lambda: True))
    monkeypatch.setattr(Tray, "show", lambda self: None)  # the offscreen platform cannot show a tray icon
    hidden = MainWindow(controller)
    qtbot.addWidget(hidden)
    hidden.shell.first_show()
    assert not hidden.isVisible() and hidden.shell.tray.show_action.text() == "Show Parley"
    hidden.shell.tray.show_action.trigger()
    assert hidden.isVisible()


def test_screenshot_of_the_tray_menu(window: MainWindow, tmp_path: Path) -> None:
    """docs/tray-menu.png: `PARLEY_SCREENSHOTS=docs pytest tests/ui/test_tray.py -k screenshot` refreshes it."""
    out = Path(os.environ.get("PARLEY_SCREENSHOTS") or tmp_path)
    window.controller.turn_state_changed.emit("idle")
    tray = window.shell.tray
    tray.menu.adjustSize()
    image = tray.menu.grab().toImage()
    icon = tray.icon.icon().pixmap(64, 64).toImage()
    assert image.width() > 150 and image.height() > 150
    assert len({image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}) > 8
    assert image.save(str(out / "tray-menu.png")) and icon.save(str(out / "tray-icon-idle.png"))
