"""Screenshots of an approval card and of Settings → Tools in the real window on an X server, for a person to
look at (and for the README). They land in tmp_path, or in $PARLEY_SCREENSHOTS when set
(`PARLEY_SCREENSHOTS=docs pytest tests/ui/test_approval_screenshots.py` refreshes docs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.support.app_harness import TEST_KEY
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer
from tests.ui.approvals_scene import CALL, NAME
from tests.ui.test_screenshots import ROOT, distinct_colours

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (apt: xvfb)")]


def test_screenshots_of_an_approval_card_and_the_tools_page(x_display: str, pulse: PulseServer,
                                                            realtime_server: RealtimeTestServer, tmp_path: Path,
                                                            secret_service: object) -> None:
    out = Path(os.environ.get("PARLEY_SCREENSHOTS") or tmp_path)
    realtime_server.script_response(function_calls=[(NAME, CALL)])
    realtime_server.script_response(transcript="Done: the dentist is in your calendar at five, and I will remind "
                                               "you at ten to five.")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display, "OPENAI_API_KEY": TEST_KEY}
    result = subprocess.run([sys.executable, "-m", "tests.ui.approvals_scene", str(out), realtime_server.url],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("approval-card", "settings-tools"):
        image = QImage(str(out / f"{name}.png"))
        assert not image.isNull(), f"{name}.png missing"
        assert image.width() >= 500 and image.height() >= 400
        assert distinct_colours(image) > 20, f"{name}.png looks blank"
    outputs = [e["item"]["output"] for e in realtime_server.received if e["type"] == "conversation.item.create"
               and e["item"]["type"] == "function_call_output"]
    assert outputs == ["created"]  # the card's Allow ran the call
    assert realtime_server.violations == []
