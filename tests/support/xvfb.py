"""A private X server (Xvfb) for tests that need a real X11 display: the global hotkey and the screenshots."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture
def x_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private Xvfb; it picks a free display number itself and writes it to a pipe (-displayfd).

    -noreset: by default Xvfb resets when its last client disconnects, and a client connecting during the reset
    is refused ("connection reset by peer"): a probe connection closing just before pynput's would do that."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp", "-noreset"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()  # blocks until the server is ready to accept clients
        assert number.isdigit(), "Xvfb did not report a display"
        display = f":{number}"
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
        yield display
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
