"""Crash safety: the real app in a subprocess holds a spoken (hands-free) conversation with the loopback
Realtime server through the private PulseAudio microphone, is killed with SIGKILL in the middle of a reply, and
is started again set to continue the last conversation: the history has everything up to the item in flight,
and the new session is seeded with its text (every event checked against the openai models by the server)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.support.app_harness import TEST_KEY
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer, spoken_tone

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIRST_QUESTION = "What is the capital of Portugal?"
FIRST_ANSWER = "The capital of Portugal is Lisbon, on the Tagus river."
SECOND_QUESTION = "And how many people live there?"


def wait(condition: Callable[[], bool], what: str, within: float = 60.0, proc: subprocess.Popen[str] | None = None,
         ) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the app exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within} s")
        time.sleep(0.05)


def start(home: Path, url: str, pulse: PulseServer) -> subprocess.Popen[str]:
    env = {**os.environ, **pulse.env, "QT_QPA_PLATFORM": "offscreen", "OPENAI_API_KEY": TEST_KEY,
           "PYTHONPATH": str(ROOT)}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    return subprocess.Popen([sys.executable, "-m", "desktop", "--url", url, "--hands-free"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def rows(db_path: Path) -> list[tuple[str, str, str, int]]:
    if not db_path.exists():
        return []
    db = sqlite3.connect(db_path, timeout=5)
    try:
        return db.execute("SELECT role, kind, text, done FROM items ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()


def heard(db_path: Path, text: str) -> str:
    db = sqlite3.connect(db_path, timeout=5)
    try:
        row = db.execute("SELECT coalesce(heard, text) FROM items WHERE text = ?", (text,)).fetchone()
        return str(row[0]).strip()
    finally:
        db.close()


def say(pulse: PulseServer, seconds: float = 1.2) -> None:
    pulse.play_into_mic(np.frombuffer(spoken_tone(seconds, seed=11), dtype="<i2"))


def test_sigkill_mid_reply_loses_only_the_item_in_flight_and_continue_replays(
        pulse: PulseServer, realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    db_path = tmp_path / "xdg_data_home" / "parley" / "history.sqlite3"
    config = tmp_path / "xdg_config_home" / "Parley" / "Parley.conf"
    config.parent.mkdir(parents=True)
    config.write_text("[General]\nheadphones=true\n")  # no echo gate: the mic is heard while a reply plays
    pulse.stop_sounds()
    app = start(tmp_path, realtime_server.url, pulse)
    try:
        wait(lambda: any(e["type"] == "input_audio_buffer.append" for e in realtime_server.received),
             "microphone audio reaching the server", proc=app)
        realtime_server.user_transcript = FIRST_QUESTION
        realtime_server.script_response(transcript=FIRST_ANSWER)
        say(pulse)
        wait(lambda: ("assistant", "message", FIRST_ANSWER, 1) in rows(db_path), "first answer recorded", proc=app)

        realtime_server.user_transcript = SECOND_QUESTION
        realtime_server.script_response(audio=spoken_tone(20.0), speed=1.0,
                                        transcript="About half a million people live in the city itself.")
        say(pulse)
        wait(lambda: ("user", "message", SECOND_QUESTION, 1) in rows(db_path), "second question recorded",
             proc=app)
        realtime_server.wait_sent("response.output_audio.delta", timeout=30, count=3)
        app.send_signal(signal.SIGKILL)
        app.wait(10)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        pulse.stop_sounds()

    kept = rows(db_path)
    messages = [(role, text, done) for role, kind, text, done in kept if kind == "message"]
    assert messages[:3] == [("user", FIRST_QUESTION, 1), ("assistant", FIRST_ANSWER, 1),
                            ("user", SECOND_QUESTION, 1)], kept
    assert len(messages) <= 4 and all(not done for _, _, done in messages[3:]), "only the reply in flight is open"
    heard_first = heard(db_path, FIRST_ANSWER)
    assert heard_first and FIRST_ANSWER.startswith(heard_first)

    config.write_text("[General]\nheadphones=true\nstart_with=continue\n")
    creates_before = sum(e["type"] == "conversation.item.create" for e in realtime_server.received)
    again = start(tmp_path, realtime_server.url, pulse)
    try:
        wait(lambda: sum(e["type"] == "conversation.item.create" for e in realtime_server.received)
             >= creates_before + 3, "the history replayed", proc=again)
        replayed = [e["item"] for e in realtime_server.received if e["type"] == "conversation.item.create"]
        texts = [(item["role"], item["content"][0]["text"]) for item in replayed[creates_before:]]
        # the first answer may have been cut off by the second question: what was heard is what is replayed
        assert texts == [("user", FIRST_QUESTION), ("assistant", heard_first), ("user", SECOND_QUESTION)]
        again.send_signal(signal.SIGTERM)
        _out, err = again.communicate(timeout=30)
        assert again.returncode == 0, err[-2000:]
    finally:
        if again.poll() is None:
            again.kill()
            again.wait(10)
    assert realtime_server.violations == []
