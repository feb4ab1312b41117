"""Earcons: their shape, and in the real app on PulseAudio a rising chirp at the press and a falling one at the
release reach the speaker (played by the system's player as their own stream, so Parley's played-sample clock
never sees them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from desktop.app.earcons import LEVEL, RATE, player_command, tone
from tests.support.app_harness import TEST_KEY, start_app, stop_app, until
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer


def crossings_hz(samples: np.ndarray) -> float:
    signs = np.signbit(samples.astype(np.float64))
    return float(np.count_nonzero(signs[1:] != signs[:-1])) * RATE / (2 * len(samples))


def test_tones_sweep_up_and_down_without_clicks() -> None:
    start, stop = tone("start"), tone("stop")
    third = len(start) // 3
    assert crossings_hz(start[:third]) < crossings_hz(start[-third:])
    assert crossings_hz(stop[:third]) > crossings_hz(stop[-third:])
    for cue in (start, stop):
        assert abs(int(cue[0])) < 200 and abs(int(cue[-1])) < 200, "fades in and out"
        assert 0.8 * LEVEL * 32767 < np.abs(cue).max() <= LEVEL * 32767


def test_player_per_platform(tmp_path: Path) -> None:
    wav = tmp_path / "start.wav"
    assert player_command(wav, "darwin") == ["afplay", str(wav)]
    assert player_command(wav, "win32") is None  # winsound, in-process
    linux = player_command(wav, "linux")
    assert linux is not None and linux[-1] == str(wav)


def bursts(recording: np.ndarray, threshold: float = 1500) -> list[np.ndarray]:
    """The loud stretches of a recording (10 ms frames above `threshold`), joined across short gaps."""
    frame = RATE // 100
    loud = [np.abs(recording[i:i + frame]).max() > threshold for i in range(0, len(recording) - frame, frame)]
    found: list[np.ndarray] = []
    start = None
    for index, is_loud in enumerate([*loud, False]):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            found.append(recording[start * frame:index * frame])
            start = None
    return [b for b in found if len(b) >= 4 * frame]


@pytest.mark.slow
def test_a_hold_chirps_up_then_down_on_the_speaker(
        qloop: asyncio.Runner, pulse: PulseServer, realtime_server: RealtimeTestServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    pulse.stop_sounds()
    realtime_server.script_response(audio=bytes(4800))  # a silent reply, if the hold makes a turn: only cues sound

    async def scenario() -> np.ndarray:
        app = await start_app(realtime_server.url, tmp_path, earcons=True)
        try:
            speaker = pulse.record_speaker()
            await asyncio.sleep(0.5)  # the recorder's stream starts late: cues before that would be lost
            shell = app.window.shell
            app.controller.press_talk()
            await until(lambda: shell.earcons.played == ["start"], what="the start earcon")
            await until(lambda: not shell.earcons._tasks, what="the start earcon played out")
            app.controller.release_talk()
            await until(lambda: shell.earcons.played == ["start", "stop"], what="the stop earcon")
            await until(lambda: app.controller.turn_state == "idle", within=20, what="back to idle")
            await until(lambda: not shell.earcons._tasks, what="both played out")
            await asyncio.sleep(0.3)  # the sound server's own latency before the recording stops
            recorded = await asyncio.to_thread(speaker.stop)
            return recorded
        finally:
            await stop_app(app)

    recorded = qloop.run(scenario())
    found = bursts(recorded)
    assert len(found) == 2, f"expected two chirps, found {len(found)} loud stretches"
    rising, falling = found
    third = min(len(rising), len(falling)) // 3
    assert crossings_hz(rising[:third]) < crossings_hz(rising[-third:])
    assert crossings_hz(falling[:third]) > crossings_hz(falling[-third:])
