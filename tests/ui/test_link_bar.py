"""The link bar draws the link's state: hidden while connected, a countdown and Retry now while waiting."""

from __future__ import annotations

import time

from pytestqt.qtbot import QtBot

from desktop.core.link import LinkPhase, LinkStatus
from desktop.ui.link_bar import LinkBar


def make_bar(qtbot: QtBot) -> LinkBar:
    bar = LinkBar()
    qtbot.addWidget(bar)
    bar.show_status(LinkStatus(LinkPhase.CONNECTED))
    return bar


def test_waiting_counts_down_and_retry_now_emits(qtbot: QtBot) -> None:
    bar = make_bar(qtbot)
    assert bar.isHidden()
    bar.show_status(LinkStatus(LinkPhase.WAITING, 3, time.monotonic() + 12.2, "Connection closed by server."))
    assert not bar.isHidden() and bar.button.isVisibleTo(bar)
    assert bar.text.text() == "Connection closed by server. Trying again in 13 s (attempt 3)."
    qtbot.waitUntil(lambda: "in 12 s" in bar.text.text(), timeout=5000)  # it counts down by itself
    with qtbot.waitSignal(bar.retry, timeout=1000):
        bar.button.click()


def test_connecting_hides_the_button_and_connected_hides_the_bar(qtbot: QtBot) -> None:
    bar = make_bar(qtbot)
    bar.show_status(LinkStatus(LinkPhase.CONNECTING, 2, None, "Could not reach 127.0.0.1."))
    assert bar.text.text() == "Could not reach 127.0.0.1. Reconnecting (attempt 2)…"
    assert not bar.button.isVisibleTo(bar)
    bar.show_status(LinkStatus(LinkPhase.CONNECTED))
    assert bar.isHidden()


def test_stopped_asks_the_user_and_keeps_retry(qtbot: QtBot) -> None:
    bar = make_bar(qtbot)
    bar.show_status(LinkStatus(LinkPhase.STOPPED, reason="Server refused the API key: check the API key."))
    assert "stopped trying" in bar.text.text() and "check the API key" in bar.text.text()
    assert bar.button.isVisibleTo(bar) and bar.property("stopped") is True
