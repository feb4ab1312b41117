"""The global hotkey against a real X server (Xvfb started here) driven by xdotool, plus the reasons it gives
when it cannot work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.ui.global_hotkey import WAYLAND_REASON, GlobalHotkey, parse_key

needs_x = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                             reason="Xvfb and xdotool are needed (apt: xvfb xdotool)")




def xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


@pytest.fixture
def hotkey(qtbot: QtBot) -> Iterator[GlobalHotkey]:
    hot = GlobalHotkey()
    yield hot
    hot.stop()


@needs_x
def test_hold_on_a_real_x_server_gives_one_press_and_one_release(
        qtbot: QtBot, x_display: str, hotkey: GlobalHotkey) -> None:
    assert GlobalHotkey.availability() == (True, "")
    events: list[str] = []
    hotkey.pressed.connect(lambda: events.append("pressed"))
    hotkey.released.connect(lambda: events.append("released"))
    hotkey.start("F9")
    assert hotkey.is_running()

    with qtbot.waitSignal(hotkey.pressed, timeout=5000):
        xdotool(x_display, "keydown", "F9")
    # The X server starts auto-repeating after ~660 ms: a held key must still be one hold.
    with qtbot.assertNotEmitted(hotkey.released, wait=1200):
        pass
    with qtbot.waitSignal(hotkey.released, timeout=5000):
        xdotool(x_display, "keyup", "F9")
    with qtbot.assertNotEmitted(hotkey.pressed, wait=150):
        pass
    assert events == ["pressed", "released"]

    with qtbot.assertNotEmitted(hotkey.pressed, wait=300):
        xdotool(x_display, "key", "F8")  # another key: nothing
    with qtbot.waitSignal(hotkey.released, timeout=5000):  # while a tap of F9 is a full hold
        xdotool(x_display, "key", "F9")
    assert events == ["pressed", "released", "pressed", "released"]


@needs_x
def test_stop_while_held_releases_and_stops_listening(
        qtbot: QtBot, x_display: str, hotkey: GlobalHotkey) -> None:
    hotkey.start("ScrollLock")
    with qtbot.waitSignal(hotkey.pressed, timeout=5000):
        xdotool(x_display, "keydown", "Scroll_Lock")
    with qtbot.waitSignal(hotkey.released, timeout=2000):
        hotkey.stop()
    assert not hotkey.is_running()
    with qtbot.assertNotEmitted(hotkey.pressed, wait=300):
        xdotool(x_display, "keyup", "Scroll_Lock")
        xdotool(x_display, "key", "Scroll_Lock")


@needs_x
def test_key_names(x_display: str) -> None:
    from pynput import keyboard

    assert parse_key("F9") == keyboard.Key.f9
    assert parse_key("ScrollLock") == keyboard.Key.scroll_lock
    assert parse_key("Pause") == keyboard.Key.pause
    assert parse_key("a") == keyboard.KeyCode.from_char("a")
    for bad in ("Ctrl+F9", "NoSuchKey", ""):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_reasons_when_unavailable(monkeypatch: pytest.MonkeyPatch, hotkey: GlobalHotkey) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the display checks are Linux-only")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    usable, reason = GlobalHotkey.availability()
    assert not usable and "no X display" in reason
    with pytest.raises(RuntimeError, match="no X display"):
        hotkey.start("F9")
    assert not hotkey.is_running()

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    assert GlobalHotkey.availability() == (False, WAYLAND_REASON)


@needs_x
def test_reason_when_the_display_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":999")  # nothing listens there
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    usable, reason = GlobalHotkey.availability()
    assert not usable and reason.startswith("pynput cannot listen here")
