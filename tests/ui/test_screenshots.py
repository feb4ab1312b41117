"""Screenshots of the real window on an X server, for a person to look at (and for the README).

They land in tmp_path, or in $PARLEY_SCREENSHOTS when set (`PARLEY_SCREENSHOTS=docs pytest
tests/ui/test_screenshots.py` refreshes docs/). The test checks they are real pictures of a drawn window: the
right size, and not one flat colour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from tests.support.app_harness import TEST_KEY
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer, spoken_tone

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (apt: xvfb)")]


def distinct_colours(image: QImage, step: int = 7) -> int:
    seen = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            seen.add(image.pixel(x, y))
    return len(seen)


def test_screenshots_of_idle_conversation_and_settings(x_display: str, pulse: PulseServer,
                                                       realtime_server: RealtimeTestServer, tmp_path: Path,
                                                       secret_service: object) -> None:
    out = Path(os.environ.get("PARLEY_SCREENSHOTS") or tmp_path)
    realtime_server.script_response(function_calls=[("get_current_time", "{}")])
    realtime_server.script_response(
        audio=spoken_tone(8.0), speed=2.0,  # the API streams ahead of playback: the unheard words are shown
        transcript="It is a quarter past two, so your three o'clock meeting starts in forty-five minutes. "
                   "Do you want me to set a reminder ten minutes before it?")
    rng = np.random.default_rng(3)
    room = pulse.play_into_mic((rng.normal(0, 120, 24000 * 30)).astype(np.int16))  # a quiet room, not a muted mic
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display, "OPENAI_API_KEY": TEST_KEY}
    result = subprocess.run([sys.executable, "-m", "tests.ui.screenshot_scene", str(out), realtime_server.url],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    room.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("main-idle", "main-conversation", "main-interrupted", "settings"):
        image = QImage(str(out / f"{name}.png"))
        assert not image.isNull(), f"{name}.png missing"
        assert image.width() >= 500 and image.height() >= 400
        assert distinct_colours(image) > 20, f"{name}.png looks blank"
    assert realtime_server.received_types().count("conversation.item.truncate") == 1
