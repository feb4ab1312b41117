"""Tells the link when trying again is worth it: the network came back, or the machine woke from sleep.

The network comes from Qt's QNetworkInformation where a backend exists (NetworkManager, glib, Windows, macOS);
without one (or without QtNetwork, which the bundle leaves out), nothing is reported and the link's own probe
still notices an unreachable server's return within a second. Sleep is found portably: a
timer compares how far the wall clock and the monotonic clock moved since its last tick. Across a suspend the
wall clock jumps while the monotonic clock (on Linux and macOS) stands still; where the monotonic clock runs on
during sleep (Windows), the tick itself arrives late. Either jump beyond `jump_s` counts as a resume.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

try:
    from PySide6.QtNetwork import QNetworkInformation
except ImportError:  # left out of the bundle: only the resume check runs
    QNetworkInformation = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class NetworkWatch(QObject):
    back = Signal(str)  # why: "network" or "resume"

    def __init__(self, parent: QObject | None = None, *, every_ms: int = 5000, jump_s: float = 10.0,
                 wall: Clock = time.time, mono: Clock = time.monotonic) -> None:
        super().__init__(parent)
        self._every_s = every_ms / 1000
        self._jump_s = jump_s
        self._wall, self._mono = wall, mono
        self._last = (wall(), mono())
        self._timer = QTimer(self)
        self._timer.setInterval(every_ms)
        self._timer.timeout.connect(self.check_resume)
        self._timer.start()
        self.online: bool | None = None  # None: no network information on this system
        self._info = _network_information()
        if self._info is not None:
            self.online = self._info.reachability() == QNetworkInformation.Reachability.Online
            self._info.reachabilityChanged.connect(self.on_reachability)

    @property
    def backend(self) -> str:
        return self._info.backendName() if self._info is not None else ""

    def on_reachability(self, reachability: QNetworkInformation.Reachability) -> None:
        online = reachability == QNetworkInformation.Reachability.Online
        came_back = online and self.online is False
        self.online = online
        log.info("network reachability: %s", reachability.name)
        if came_back:
            self.back.emit("network")

    def check_resume(self) -> None:
        wall, mono = self._wall(), self._mono()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        slept = max((wall - last_wall) - (mono - last_mono), (mono - last_mono) - self._every_s)
        if slept > self._jump_s:
            log.info("the computer seems to have slept for about %.0f s", slept)
            self.back.emit("resume")

    def stop(self) -> None:
        self._timer.stop()
        if self._info is not None:
            self._info.reachabilityChanged.disconnect(self.on_reachability)
            self._info = None


def _network_information() -> QNetworkInformation | None:
    if QNetworkInformation is None:
        return None
    try:
        if QNetworkInformation.instance() is None and not QNetworkInformation.loadBackendByFeatures(
            QNetworkInformation.Feature.Reachability
        ):
            return None
    except RuntimeError:  # no backend plugin in this build
        return None
    return QNetworkInformation.instance()
