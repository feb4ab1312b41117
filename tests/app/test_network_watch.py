"""The network watch: a network coming back and a resume from sleep both ask the link to try at once."""

from __future__ import annotations

import pytest
from PySide6.QtNetwork import QNetworkInformation
from pytestqt.qtbot import QtBot

from desktop.app import network_watch
from desktop.app.network_watch import NetworkWatch


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = 1_000_000.0, 500.0

    def tick(self, mono_s: float, wall_s: float | None = None) -> None:
        self.mono += mono_s
        self.wall += mono_s if wall_s is None else wall_s


def test_resume_is_seen_from_the_clocks(qtbot: QtBot) -> None:
    clocks = Clocks()
    watch = NetworkWatch(wall=lambda: clocks.wall, mono=lambda: clocks.mono, every_ms=5000, jump_s=10)
    seen: list[str] = []
    watch.back.connect(seen.append)
    clocks.tick(5)
    watch.check_resume()
    clocks.tick(6, wall_s=6.5)  # ordinary drift and timer jitter
    watch.check_resume()
    assert seen == []
    clocks.tick(5, wall_s=3605)  # Linux/macOS: the monotonic clock stood still for an hour of sleep
    watch.check_resume()
    assert seen == ["resume"]
    clocks.tick(3600)  # Windows: the tick arrives an hour late
    watch.check_resume()
    assert seen == ["resume", "resume"]
    watch.stop()


def test_network_coming_back_is_reported_once(qtbot: QtBot) -> None:
    watch = NetworkWatch()
    seen: list[str] = []
    watch.back.connect(seen.append)
    watch.on_reachability(QNetworkInformation.Reachability.Disconnected)
    assert watch.online is False and seen == []
    watch.on_reachability(QNetworkInformation.Reachability.Online)
    watch.on_reachability(QNetworkInformation.Reachability.Online)
    assert seen == ["network"] and watch.online is True
    watch.stop()


def test_a_real_backend_is_loaded_here(qtbot: QtBot) -> None:
    watch = NetworkWatch()
    assert watch.backend in QNetworkInformation.availableBackends()  # glib or NetworkManager on Linux
    assert watch.online is not None
    watch.stop()


def test_without_qtnetwork_only_the_resume_check_runs(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle leaves QtNetwork out: the watch must still work (and say nothing about the network)."""
    monkeypatch.setattr(network_watch, "QNetworkInformation", None)
    clocks = Clocks()
    watch = NetworkWatch(wall=lambda: clocks.wall, mono=lambda: clocks.mono)
    seen: list[str] = []
    watch.back.connect(seen.append)
    assert watch.online is None and watch.backend == ""
    clocks.tick(5, wall_s=600)
    watch.check_resume()
    assert seen == ["resume"]
    watch.stop()
