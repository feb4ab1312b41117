"""The global talk key through a fake XDG portal on a private session bus, in the real window with NO X display:
nothing but the portal can be what makes the key work. A press, speech into the PulseAudio microphone and the
release make one turn on the loopback Realtime server; the desktop refusing, the portal vanishing and a changed
key each say what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.app.controller import Controller
from desktop.app.secrets import KeyStore
from desktop.cli import Options
from desktop.ui.main_window import MainWindow
from desktop.ui.settings_dialog import HotkeysPage
from tests.support.app_harness import TEST_KEY, settings_in, until
from tests.support.fake_desktop import FakeDesktop
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer
from tests.support.sounds import speech_wav

pytest_plugins = ["tests.support.session_bus"]


@pytest.fixture(autouse=True)
def no_display(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where the app installs its parley.desktop


@pytest.fixture
def desktop(session_bus: str) -> Iterator[FakeDesktop]:
    fake = FakeDesktop(session_bus).start()
    yield fake
    fake.stop()


def bound_triggers(desktop: FakeDesktop) -> list[str]:
    return [body[1][0][1]["preferred_trigger"].value for name, body in desktop.calls if name == "BindShortcuts"]


@pytest.mark.slow
@pytest.mark.qt_log_ignore("This plugin does not support raise")  # the overlay is stay-on-top
def test_portal_press_speech_release_is_one_turn_even_hidden_and_a_changed_key_rebinds(
        qloop: asyncio.Runner, desktop: FakeDesktop, pulse: PulseServer, realtime_server: RealtimeTestServer,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    server = realtime_server

    async def turn(words: str) -> None:
        before = server.received_types().count("response.create")
        pulse.play_into_mic(speech_wav(words))
        desktop.press(times=3)  # repeated Activated while held (Hyprland): one turn
        await until(lambda: server.received_types()[-20:].count("input_audio_buffer.append") >= 20,
                    what="the microphone streamed while the portal key is held")
        overlay = window.shell.overlay  # the window is hidden: the overlay says Parley listens
        assert overlay is not None and overlay.isVisible() and overlay.mode == "listening"
        assert overlay.meter.peak > 0.3, "the level meter showed the speech"
        desktop.release()
        await until(lambda: server.received_types().count("response.create") == before + 1, what="turn sent")
        await until(lambda: controller.turn_state == "idle", within=20, what="reply played to the end")
        assert "speaking" in states and window.shell.overlay is not None and not window.shell.overlay.isVisible()

    async def scenario() -> None:
        window.show()
        window._apply_hotkeys()  # as at start-up, which happens inside the running loop
        await controller.start()
        await controller.wait_ready()
        await until(lambda: controller.turn_state == "idle", what="session ready")
        await until(lambda: window.global_talk.mechanism == "portal", what="bound through the portal")
        # The portal accepted the app id because the app installed its desktop entry first.
        assert (tmp_path / "data" / "applications" / "parley.desktop").is_file()
        assert window.global_talk.status() == (True, "Active through the desktop's GlobalShortcuts portal: hold "
                                               "F9 to talk from any app.")
        window.hide()  # the key works with the window out of sight: that is what a global key is for
        await turn("What time is it in Lisbon right now?")
        kinds = server.received_types()
        turn_kinds = kinds[kinds.index("input_audio_buffer.clear"):]
        assert turn_kinds.count("input_audio_buffer.clear") == 1
        assert turn_kinds.count("input_audio_buffer.commit") == 1 and turn_kinds.count("response.create") == 1

        await window.global_talk.apply(True, "F9")  # Settings → OK, key unchanged: no new bind (KDE would ask)
        assert bound_triggers(desktop) == ["F9"] and window.global_talk.mechanism == "portal"
        controller.settings.set("global_hotkey", "ScrollLock")  # Settings → Hotkeys → OK
        window._apply_hotkeys()
        await until(lambda: bound_triggers(desktop) == ["F9", "Scroll_Lock"], what="re-bound with the new key")
        await until(lambda: window.global_talk.mechanism == "portal", what="bound again")
        assert len(desktop.sessions) == 1, "the old session was closed"
        await turn("And what about Tokyo?")
        assert server.received_types().count("input_audio_buffer.commit") == 2

    controller = Controller(Options(url=server.url, global_hotkey=True), settings_in(tmp_path), KeyStore())
    states: list[str] = []
    controller.turn_state_changed.connect(states.append)
    window = MainWindow(controller)
    try:
        qloop.run(scenario())
    finally:
        qloop.run(controller.aclose())
        window.close()
        window.deleteLater()
    assert server.violations == []
    assert controller.settings.get("global_hotkey_enabled") is False  # --global-hotkey is for this run only


def make_window(tmp_path: Path, **settings: object) -> tuple[Controller, MainWindow, list[str], list[str]]:
    controller = Controller(Options(), settings_in(tmp_path, **settings), KeyStore(), audio=False)
    window = MainWindow(controller)
    keys: list[str] = []
    window.global_talk.pressed.connect(lambda: keys.append("press"))
    window.global_talk.released.connect(lambda: keys.append("release"))
    banners: list[str] = []
    controller_error = window.show_error

    def banner(message: str, advice: str) -> None:
        banners.append(f"{message} {advice}")
        controller_error(message, advice)

    window.global_talk.problem.disconnect(window.show_error)
    window.global_talk.problem.connect(banner)
    return controller, window, keys, banners


def test_a_refused_bind_is_explained_and_a_retry_asks_again(qloop: asyncio.Runner, desktop: FakeDesktop,
                                                            tmp_path: Path) -> None:
    desktop.bind_mode = "cancel"
    controller, window, keys, banners = make_window(tmp_path)

    async def scenario() -> None:
        controller.settings.set("global_hotkey_enabled", True)
        window._apply_hotkeys()
        await until(lambda: bool(banners), what="the refusal shown")
        assert banners[0].startswith("The desktop refused the global talk key. BindShortcuts was cancelled")
        assert window.banner.isVisibleTo(window) and "refused" in window.banner_text.text()
        assert window.global_talk.mechanism == "none"
        dialog = window.open_settings()
        page = dialog.page(HotkeysPage)
        assert isinstance(page, HotkeysPage)
        await until(lambda: "refused the key" in page.global_status.text(), what="the page says why")
        assert page.fields["global_hotkey_enabled"].isEnabled()  # the user may ask again
        dialog.reject()
        desktop.bind_mode = "accept"  # this time the user accepts the desktop's dialog
        window._apply_hotkeys()
        await until(lambda: window.global_talk.mechanism == "portal", what="accepted on the second ask")
        desktop.press()
        await until(lambda: keys == ["press"], what="the key works")

    try:
        qloop.run(scenario())
    finally:
        window.close()
        window.deleteLater()


def test_the_portal_vanishing_ends_the_hold_says_so_and_rebinds_when_back(
        qloop: asyncio.Runner, desktop: FakeDesktop, tmp_path: Path) -> None:
    controller, window, keys, banners = make_window(tmp_path, global_hotkey_enabled=True)

    async def scenario() -> None:
        window._apply_hotkeys()
        await until(lambda: window.global_talk.mechanism == "portal", what="bound")
        desktop.press()
        await until(lambda: keys == ["press"], what="held")
        await asyncio.to_thread(desktop.stop)
        await until(lambda: keys == ["press", "release"], what="the hold ends with the portal")
        await until(lambda: any("portal stopped" in b for b in banners), what="the user is told")
        assert window.global_talk.mechanism == "none"
        await asyncio.to_thread(desktop.start)
        await until(lambda: window.global_talk.mechanism == "portal", what="bound again by itself")
        assert "The desktop portal is back" in window.global_talk.status()[1]
        desktop.press()
        desktop.release()
        await until(lambda: keys == ["press", "release", "press", "release"], what="the key works again")

    try:
        qloop.run(scenario())
    finally:
        window.close()
        window.deleteLater()
    assert controller.turn_state == "connecting"  # never started: only the key was under test


def test_without_portal_or_display_the_page_says_why_and_the_option_is_off(
        qloop: asyncio.Runner, session_bus: str, tmp_path: Path) -> None:
    _controller, window, _keys, _banners = make_window(tmp_path)

    async def scenario() -> HotkeysPage:
        dialog = window.open_settings()
        page = dialog.page(HotkeysPage)
        assert isinstance(page, HotkeysPage)
        await until(lambda: "unavailable" in page.global_status.text(), what="the probe's answer")
        return page

    try:
        page = qloop.run(scenario())
        text = page.global_status.text()
        assert text.startswith("Global hotkey unavailable: No XDG desktop portal on the session bus; and the X11")
        assert "no X display" in text
        assert not page.fields["global_hotkey_enabled"].isEnabled()
    finally:
        window.close()
        window.deleteLater()


def test_with_a_portal_and_the_key_off_the_page_offers_it(qloop: asyncio.Runner, desktop: FakeDesktop,
                                                          tmp_path: Path) -> None:
    _controller, window, _keys, _banners = make_window(tmp_path)

    async def scenario() -> HotkeysPage:
        dialog = window.open_settings()
        page = dialog.page(HotkeysPage)
        assert isinstance(page, HotkeysPage)
        await until(lambda: "portal" in page.global_status.text(), what="the probe's answer")
        return page

    try:
        page = qloop.run(scenario())
        assert page.global_status.text() == ("Global hotkey: Available through the desktop's GlobalShortcuts "
                                             "portal; the desktop may ask you to confirm the key when you turn it on.")
        assert page.fields["global_hotkey_enabled"].isEnabled()
        assert "BindShortcuts" not in desktop.call_names(), "a look, not a binding"
    finally:
        window.close()
        window.deleteLater()
