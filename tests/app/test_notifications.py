"""Desktop notifications to a fake freedesktop notification daemon on a private session bus; its clicks bring
the window forward; with no daemon the tray's balloon shows them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.app.controller import Controller
from desktop.app.notifications import BUTTON_ACTION, DEFAULT_ACTION, Notifier
from desktop.app.secrets import KeyStore
from desktop.cli import Options
from tests.support.app_harness import next_emission, settings_in, until
from tests.support.fake_desktop import FakeDesktop

pytest_plugins = ["tests.support.session_bus"]


@pytest.fixture
def daemon(session_bus: str) -> Iterator[FakeDesktop]:
    fake = FakeDesktop(session_bus, portal=False, notifications=True).start()
    yield fake
    fake.stop()


def test_a_timer_notification_reaches_the_daemon_and_its_button_click_comes_back(
        qloop: asyncio.Runner, daemon: FakeDesktop) -> None:
    fallback: list[tuple[str, str]] = []
    notifier = Notifier(fallback=lambda t, b: fallback.append((t, b)))

    async def scenario() -> None:
        notifier.notify("Timer", "Your 5 minute tea timer is done.", action="Show timers")
        await until(lambda: len(daemon.notifications) == 1, what="the daemon got it")
        note = daemon.notifications[0]
        assert (note["app"], note["summary"], note["body"]) == ("Parley", "Timer", "Your 5 minute tea timer is done.")
        assert note["actions"] == [DEFAULT_ACTION, "Show timers", BUTTON_ACTION, "Show timers"]
        assert note["hints"]["desktop-entry"] == "parley"
        clicked = asyncio.ensure_future(next_emission(notifier.activated))
        daemon.invoke_action(note["id"], BUTTON_ACTION)
        assert await clicked == ("Show timers",)
        second = await notifier.send("Approval needed", "A tool waits for your approval.")
        clicked = asyncio.ensure_future(next_emission(notifier.activated))
        daemon.invoke_action(999, DEFAULT_ACTION)  # another app's notification: not ours
        daemon.invoke_action(int(second or 0), DEFAULT_ACTION)
        assert await clicked == ("",)

    try:
        qloop.run(scenario())
    finally:
        notifier.close()
    assert fallback == []


def test_without_a_daemon_the_fallback_shows_it(qloop: asyncio.Runner, session_bus: str) -> None:
    fallback: list[tuple[str, str]] = []
    notifier = Notifier(fallback=lambda t, b: fallback.append((t, b)))
    try:
        assert qloop.run(notifier.send("Timer", "Done.")) is None
    finally:
        notifier.close()
    assert fallback == [("Timer", "Done.")]
    no_bus = Notifier(fallback=lambda t, b: fallback.append((t, b)), bus_address="unix:path=/nonexistent")
    assert qloop.run(no_bus.send("Error", "Talking stopped.")) is None
    assert fallback[-1] == ("Error", "Talking stopped.")


def test_an_error_while_hidden_notifies_and_the_click_shows_the_window(
        qloop: asyncio.Runner, daemon: FakeDesktop, tmp_path: Path, qtbot: object) -> None:
    from desktop.ui.main_window import MainWindow

    controller = Controller(Options(), settings_in(tmp_path), KeyStore(), audio=False)
    window = MainWindow(controller)

    async def scenario() -> None:
        window.show()
        controller.error.emit("The microphone stopped.", "Check the microphone.")  # visible: the banner says it
        window.hide()
        controller.error.emit("The connection was lost.", "Parley reconnects on its own.")
        await until(lambda: len(daemon.notifications) == 1, what="one notification")
        assert daemon.notifications[0]["summary"] == "The connection was lost."
        daemon.invoke_action(daemon.notifications[0]["id"], DEFAULT_ACTION)
        await until(window.isVisible, what="the click brings the window back")

    try:
        qloop.run(scenario())
    finally:
        window.shell.quit()
        window.deleteLater()
