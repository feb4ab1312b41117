"""Screenshots of the history view on an X server, for a person to look at (and for the README).

`PARLEY_SCREENSHOTS=docs pytest tests/ui/test_history_screenshots.py` refreshes docs/history-*.png. The test
checks they are real pictures of a drawn dialog: the right size, and not one flat colour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.ui.test_screenshots import distinct_colours

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (apt: xvfb)")]


def test_screenshots_of_the_history_view(x_display: str, tmp_path: Path) -> None:
    out = Path(os.environ.get("PARLEY_SCREENSHOTS") or tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
    result = subprocess.run([sys.executable, "-m", "tests.ui.history_screenshot_scene", str(out)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("history-list", "history-search"):
        image = QImage(str(out / f"{name}.png"))
        assert not image.isNull(), f"{name}.png missing"
        assert image.width() >= 800 and image.height() >= 450
        assert distinct_colours(image) > 20, f"{name}.png looks blank"
