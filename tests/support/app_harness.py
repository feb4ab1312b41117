"""The whole app as a user runs it, minus the process: a Controller and its MainWindow on the test's qasync
loop, a real PulseAudio server for sound and the loopback Realtime server for the model.

Waiting is on conditions and signals with deadlines, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop.app.controller import Controller
from desktop.app.options import Options
from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore

TEST_KEY = "test-key-not-a-secret"


async def until(condition: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Polls a condition that lives in another thread or process (server, sound card) without blocking."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within} s")
        await asyncio.sleep(0.005)


async def next_emission(signal: Any, within: float = 10.0,
                        accept: Callable[..., bool] = lambda *args: True) -> tuple[Any, ...]:
    """The arguments of the next emission of a Qt signal that `accept` takes."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not future.done() and accept(*args):
            future.set_result(args)

    signal.connect(slot)
    try:
        return await asyncio.wait_for(future, within)
    finally:
        signal.disconnect(slot)


def settings_in(folder: Path, **values: Any) -> SettingsStore:
    store = SettingsStore(QSettings(str(folder / "parley.ini"), QSettings.Format.IniFormat))
    for key, value in values.items():
        store.set(key, value)
    return store


@dataclass
class Recorder:
    """Keeps every emission of the controller's signals, for assertions after the fact."""

    turn_states: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[tuple[str, str, str]] = field(default_factory=list)
    connection: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, controller: Controller) -> Recorder:
        controller.turn_state_changed.connect(self.turn_states.append)
        controller.error.connect(lambda m, a: self.errors.append((m, a)))
        controller.transcript_truncated.connect(lambda *a: self.truncated.append(a))
        controller.connection_changed.connect(lambda *a: self.connection.append(a))
        return self


def make_controller(url: str | None, settings: SettingsStore, *, audio: bool = True,
                    hands_free: bool = False) -> Controller:
    return Controller(Options(url=url, hands_free=hands_free), settings, KeyStore(), audio=audio)


@dataclass
class App:
    controller: Controller
    window: Any  # desktop.ui.main_window.MainWindow
    recorder: Recorder


async def start_app(url: str, folder: Path, *, hands_free: bool = False, **settings: Any) -> App:
    """A connected controller and its shown window, ready to talk (turn state idle)."""
    from desktop.ui.main_window import MainWindow

    controller = make_controller(url, settings_in(folder, **settings), hands_free=hands_free)
    recorder = Recorder().attach(controller)
    window = MainWindow(controller)
    window.show()
    window.activateWindow()
    await controller.start()
    await controller.wait_ready()
    await until(lambda: controller.turn_state == "idle", what="session ready")
    window.talk_button.setFocus()
    return App(controller, window, recorder)


async def stop_app(app: App) -> None:
    await app.controller.aclose()
    app.window.close()
    app.window.deleteLater()
