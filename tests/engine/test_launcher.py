"""The launcher's contract with the app: a clear reason when the engine cannot start, the frozen command
line, and a clean exit on SIGTERM (the latter is asserted when the session's engine stops)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys

import pytest

from desktop.engine.launcher import EngineUnavailable, engine_command, start_engine


def _bare_python() -> str | None:
    """A Python with none of the `offline` extra installed (the system one), if this machine has it."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and subprocess.run([candidate, "-c", "import faster_whisper"],
                                        capture_output=True).returncode != 0:
            return candidate
    return None


def test_missing_offline_extra_is_reported_in_words_a_user_can_act_on() -> None:
    python = _bare_python()
    if python is None:
        pytest.skip("no Python without faster-whisper on this machine")
    with pytest.raises(EngineUnavailable) as raised:
        asyncio.run(start_engine(python, timeout=30))
    assert "pip install 'parley[offline]'" in str(raised.value)
    assert "missing module" in str(raised.value)  # the engine's own stderr line is passed on


def test_command_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engine_command("/x/python") == ["/x/python", "-m", "desktop.engine", "--port", "0"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert engine_command("/x/python") == [sys.executable, "--engine", "--port", "0"]


def test_a_python_that_cannot_start_is_reported() -> None:
    with pytest.raises(EngineUnavailable, match="could not start"):
        asyncio.run(start_engine("/nonexistent/python", timeout=5))
