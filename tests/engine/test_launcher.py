"""The launcher's contract with the app: a clear reason when the engine cannot start, the frozen command
line, a clean exit on SIGTERM (the latter is asserted when the session's engine stops), and no engine left
behind when the app is killed."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from desktop.engine.launcher import EngineUnavailable, engine_command, start_engine
from tests.support.processes import children, kill_quietly, wait_gone

ROOT = str(Path(__file__).resolve().parents[2])
READY_WITHIN_S = 180.0  # models load in ~3 s here; generous for a loaded machine
ENGINE_GONE_WITHIN_S = 2.0  # the bound: SIGTERM arrives at once, and the engine's own stop is quick


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


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watched through /proc")
def test_the_engine_ends_when_the_app_is_killed(tmp_path: Path) -> None:
    """Parley with no key starts the offline engine as its child; SIGKILL Parley (nothing of its own runs) and
    the engine must not be left behind (it holds ~340 MB, and the next start would add another)."""
    pytest.importorskip("faster_whisper", reason="the offline extra is not installed")
    env = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "PARLEY_REALTIME_URL")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1",
                **{var: str(tmp_path / var.lower()) for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME",
                                                                "XDG_DATA_HOME", "XDG_CACHE_HOME")}})
    app = subprocess.Popen([sys.executable, "-m", "desktop", "--verbose"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(READY_WITHIN_S, app.kill)  # an app whose engine never comes up must not hang us
    watchdog.start()
    engine_pid: int | None = None
    try:
        assert app.stderr is not None
        lines: list[str] = []
        for line in app.stderr:  # the app logs once the engine printed READY (models loaded, socket open)
            lines.append(line)
            if "offline engine ready at" in line:
                break
        else:
            raise AssertionError("the app never reported the engine ready:\n" + "".join(lines[-20:]))
        engines = [pid for pid, command in children(app.pid) if "desktop.engine" in command]
        assert len(engines) == 1, children(app.pid)
        engine_pid = engines[0]
        app.kill()
        app.wait(timeout=30)
        assert wait_gone(engine_pid, ENGINE_GONE_WITHIN_S), "the offline engine outlived the killed app"
    finally:
        watchdog.cancel()
        app.kill()
        app.wait(timeout=30)
        if app.stderr is not None:
            app.stderr.close()
        if engine_pid is not None:
            kill_quietly(engine_pid)
