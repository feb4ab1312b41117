"""The GlobalShortcuts portal client against a fake portal on a private session bus, on the app's qasync loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.app.autostart import ensure_launcher_entry
from desktop.app.portal_shortcuts import SHORTCUT_ID, PortalError, PortalShortcuts, preferred_trigger
from tests.support.app_harness import until
from tests.support.fake_desktop import FakeDesktop

pytest_plugins = ["tests.support.session_bus"]


class Events:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.status: list[tuple[bool, str]] = []

    def client(self, address: str) -> PortalShortcuts:
        return PortalShortcuts(lambda: self.log.append("press"), lambda: self.log.append("release"),
                               lambda ok, text: self.status.append((ok, text)), bus_address=address)


@pytest.fixture(autouse=True)
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """parley.desktop installed in this test's own data home (what GlobalTalkKey makes sure of before binding)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return ensure_launcher_entry()


@pytest.fixture
def desktop(session_bus: str) -> Iterator[FakeDesktop]:
    fake = FakeDesktop(session_bus).start()
    yield fake
    fake.stop()


def test_trigger_names_follow_the_shortcuts_spec() -> None:
    assert preferred_trigger("F9") == "F9"
    assert preferred_trigger("ScrollLock") == "Scroll_Lock"
    assert preferred_trigger("Ctrl+Space") == "CTRL+space"
    assert preferred_trigger("Meta+Shift+A") == "LOGO+SHIFT+a"
    with pytest.raises(PortalError, match="modifier"):
        preferred_trigger("Hyper+F9")


def test_bind_press_and_release(qloop: asyncio.Runner, desktop: FakeDesktop, session_bus: str) -> None:
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            assert await portal.probe() == (True, "")
            binding = await portal.bind("F9", "Hold to talk to Parley")
            assert binding.trigger == "F9" and binding.preferred == "F9"
            assert list(desktop.registered.values()) == ["parley"]  # the app id, as its .desktop file is named
            desktop.press(times=3)  # a compositor repeating Activated while held: still one press
            await until(lambda: events.log == ["press"], what="press")
            desktop.release()
            await until(lambda: events.log == ["press", "release"], what="release")
        finally:
            portal.close()

    qloop.run(scenario())
    names = desktop.call_names()
    assert names.index("Register") < names.index("CreateSession") < names.index("BindShortcuts")
    bind = next(body for name, body in desktop.calls if name == "BindShortcuts")
    (shortcut_id, props), = bind[1]
    assert shortcut_id == SHORTCUT_ID
    assert props["description"].value == "Hold to talk to Parley" and props["preferred_trigger"].value == "F9"


@pytest.mark.parametrize(("mode", "message"), [("cancel", "cancelled in the desktop's dialog"),
                                               ("fail", "refused BindShortcuts"),
                                               ("none", "did not bind the talk key")])
def test_a_refused_bind_says_why(qloop: asyncio.Runner, desktop: FakeDesktop, session_bus: str,
                                 mode: str, message: str) -> None:
    desktop.bind_mode = mode
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            with pytest.raises(PortalError, match=message):
                await portal.bind("F9")
        finally:
            portal.close()

    qloop.run(scenario())


def test_no_portal_or_no_interface_is_reported(qloop: asyncio.Runner, session_bus: str) -> None:
    events = Events()

    async def probe() -> tuple[bool, str]:
        portal = events.client(session_bus)
        try:
            return await portal.probe()
        finally:
            portal.close()

    assert qloop.run(probe()) == (False, "no XDG desktop portal on the session bus")
    old = FakeDesktop(session_bus, global_shortcuts=False).start()
    try:
        usable, reason = qloop.run(probe())
        assert not usable and "no GlobalShortcuts interface" in reason
    finally:
        old.stop()
    usable, reason = qloop.run(PortalShortcuts(print, print, print, bus_address="unix:path=/nonexistent").probe())
    assert not usable and "session bus cannot be reached" in reason


def test_portal_vanishing_releases_and_rebinds_when_back(qloop: asyncio.Runner, desktop: FakeDesktop,
                                                         session_bus: str) -> None:
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            await portal.bind("F9")
            desktop.press()
            await until(lambda: events.log == ["press"], what="press")
            await asyncio.to_thread(desktop.stop)  # the portal crashes while the key is held
            await until(lambda: events.log == ["press", "release"], what="release when the portal left")
            assert events.status and events.status[-1][0] is False
            assert "portal stopped" in events.status[-1][1]
            await asyncio.to_thread(desktop.start)  # a restarted portal knows nothing: register and bind again
            await until(lambda: len(events.status) == 2, what="re-bound")
            assert events.status[-1] == (True, "The desktop portal is back: hold F9 to talk.")
            desktop.press()
            await until(lambda: events.log[-1] == "press", what="press after the restart")
            desktop.release()
            await until(lambda: events.log[-1] == "release", what="release after the restart")
        finally:
            portal.close()

    qloop.run(scenario())
    # The restarted portal forgot the app id (CreateSession is refused without it): registered again.
    assert desktop.call_names().count("Register") == 2


def test_rebinding_a_changed_key_uses_a_fresh_session(qloop: asyncio.Runner, desktop: FakeDesktop,
                                                      session_bus: str) -> None:
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            await portal.bind("F9")
            first = set(desktop.sessions)
            desktop.trigger_text = "Pause (chosen by the user)"
            binding = await portal.bind("ScrollLock")
            assert binding.preferred == "Scroll_Lock" and binding.trigger == "Pause (chosen by the user)"
            await until(lambda: not first & set(desktop.sessions), what="the old session closed")
            assert len(desktop.sessions) == 1
            desktop.press()
            await until(lambda: events.log == ["press"], what="press on the new session")
        finally:
            portal.close()

    qloop.run(scenario())
    assert "Close" in desktop.call_names()


def test_the_desktop_changing_the_key_or_ending_the_session_is_reported(
        qloop: asyncio.Runner, desktop: FakeDesktop, session_bus: str) -> None:
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            await portal.bind("F9")
            desktop.change_trigger("Ctrl+Alt+T")
            await until(lambda: bool(events.status), what="the change reported")
            assert events.status[-1] == (True, "The desktop changed the talk key: hold Ctrl+Alt+T to talk from any "
                                         "app.")
            assert portal.binding is not None and portal.binding.trigger == "Ctrl+Alt+T"
            desktop.press()
            await until(lambda: events.log == ["press"], what="held")
            desktop.close_sessions()
            await until(lambda: events.log == ["press", "release"], what="the hold ends with the session")
            assert events.status[-1][0] is False and "ended Parley's shortcut session" in events.status[-1][1]
            assert portal.binding is None
        finally:
            portal.close()

    qloop.run(scenario())


def test_without_an_installed_desktop_file_the_app_id_is_refused_clearly(
        qloop: asyncio.Runner, desktop: FakeDesktop, session_bus: str, installed: Path) -> None:
    installed.unlink()
    events = Events()

    async def scenario() -> None:
        portal = events.client(session_bus)
        try:
            with pytest.raises(PortalError, match=r"did not accept Parley's app id 'parley' \(App info not found "
                                                  r"for 'parley'\); it needs an installed parley.desktop"):
                await portal.bind("F9")
        finally:
            portal.close()

    qloop.run(scenario())
    assert "CreateSession" not in desktop.call_names()
