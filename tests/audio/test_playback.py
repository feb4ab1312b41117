"""Playback on a real PulseAudio, checked against a recording of the speaker's monitor: the played-sample
clock matches what reached the speaker, stop() silences the speaker where it says it did (and late deltas are
dropped), a 48 kHz device plays 24 kHz deltas at the right pitch, and vanished or killed devices are
handled."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from desktop.audio.playback import Playback, PlaybackConfig, PlaybackEvent, StopResult
from tests.audio.helpers import feed_all, pause, runs, until
from tests.support.pulse import PulseServer
from tests.support.sounds import dominant_frequency, tone

pytestmark = pytest.mark.timeout(60)



def test_played_clock_matches_the_speaker_recording(pulse: PulseServer) -> None:
    pcm = tone(440, 1.5)

    async def scenario() -> tuple[int, int, np.ndarray, int]:
        playback = Playback(PlaybackConfig())
        await playback.open()
        recording = pulse.record_speaker()
        try:
            await pause(0.3)
            feed_all(playback, "a", pcm)
            playback.finish("a")
            await until(
                lambda: playback.played_samples("a") >= playback.received_samples("a"),
                within=15,
                what="the whole item played",
            )
            await pause(0.3)
            return (
                playback.played_samples("a"),
                playback.received_samples("a"),
                recording.stop(),
                (playback.stats.underruns),
            )
        finally:
            recording.stop()
            await playback.close()

    played, received, recorded, underruns = asyncio.run(scenario())
    assert received == len(pcm) and played == received
    assert underruns == 0
    loud = runs(recorded)
    assert len(loud) == 1, f"expected one tone in the recording, got {loud}"
    block, plugin_loss = (
        240,
        round(0.2 * 24000),
    )  # see headless-recipes: the plugin may lose ~0.2 s at the edges
    assert played - plugin_loss - block <= loud[0][1] <= played + block
    start, length = loud[0]
    assert abs(dominant_frequency(recorded[start : start + length], 24000) - 440) < 5


def test_stop_silences_where_it_says_and_drops_late_deltas(pulse: PulseServer) -> None:
    long_item = tone(660, 3.0)
    next_item = tone(880, 0.6)

    async def scenario() -> tuple[StopResult, int, bool, np.ndarray, list[PlaybackEvent]]:
        playback = Playback(PlaybackConfig())
        events: list[PlaybackEvent] = []
        playback.add_event_listener(events.append)
        await playback.open()
        recording = pulse.record_speaker()
        try:
            await pause(0.3)
            feed_all(playback, "long", long_item[:48000])
            await until(lambda: playback.played_samples("long") >= 24000, within=15, what="one second played")
            result = playback.stop()
            late_accepted = playback.feed("long", long_item[48000:].tobytes())
            await until(lambda: playback.is_drained("long"), what="the fade played")
            await pause(0.4)
            settled = playback.played_samples("long")
            feed_all(playback, "next", next_item)
            playback.finish("next")
            await until(
                lambda: playback.played_samples("next") >= len(next_item), within=15, what="next item"
            )
            await pause(0.3)
            return result, settled, late_accepted, recording.stop(), events
        finally:
            recording.stop()
            await playback.close()

    result, settled, late_accepted, recorded, events = asyncio.run(scenario())
    assert result.item_id == "long"
    assert 24000 <= result.played_samples < 24000 + round(0.4 * 24000)
    assert settled == result.played_samples, "the clock converges on the heard position stop() reported"
    assert not late_accepted
    loud = runs(recorded)
    assert len(loud) == 2, f"expected the stopped tone then the next one, got {loud}"
    block = 240
    assert abs(loud[0][1] - result.played_samples) <= block + round(0.2 * 24000)
    assert abs(dominant_frequency(recorded[loud[0][0] : loud[0][0] + loud[0][1]], 24000) - 660) < 5
    assert abs(dominant_frequency(recorded[loud[1][0] : loud[1][0] + loud[1][1]], 24000) - 880) < 5
    assert [e.kind for e in events if e.item_id == "next"] == ["started", "drained"]


def test_48k_output_device_plays_24k_deltas_at_pitch_and_survives_unload(
    pulse: PulseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = pulse.load_sink("spk48", 48000)
    monkeypatch.setenv("PULSE_SINK", "spk48")  # read by the ALSA pulse plugin when the stream opens
    pcm = tone(1000, 1.0)

    async def scenario() -> tuple[np.ndarray, int, list[PlaybackEvent], int]:
        playback = Playback(PlaybackConfig(rate=48000))
        events: list[PlaybackEvent] = []
        playback.add_event_listener(events.append)
        await playback.open()
        recording = pulse.record("spk48.monitor")
        try:
            await pause(0.3)
            feed_all(playback, "a", pcm)
            playback.finish("a")
            await until(lambda: playback.played_samples("a") >= len(pcm), within=15, what="played at 48 kHz")
            await pause(0.2)
            recorded = recording.stop()
            feed_all(playback, "b", tone(500, 2.0))
            await until(lambda: playback.played_samples("b") > 4800, within=15, what="second item playing")
            pulse.unload(module)  # Pulse moves the stream to the default sink: playback must carry on
            moved_from = playback.played_samples("b")
            await until(
                lambda: playback.played_samples("b") > moved_from + 4800, within=10, what="still playing"
            )
            return recorded, playback.device_rate, events, playback.played_samples("b")
        finally:
            recording.stop()
            await playback.close()

    recorded, rate, events, _ = asyncio.run(scenario())
    assert rate == 48000
    loud = runs(recorded)
    assert len(loud) == 1
    assert 0.7 * 24000 <= loud[0][1] <= 1.05 * 24000
    assert abs(dominant_frequency(recorded[loud[0][0] : loud[0][0] + loud[0][1]], 24000) - 1000) < 5
    assert not [e for e in events if e.kind == "lost"]


def test_killed_output_stream_reports_lost(pulse: PulseServer) -> None:
    async def scenario() -> tuple[list[PlaybackEvent], str | None]:
        playback = Playback(PlaybackConfig())
        events: list[PlaybackEvent] = []
        playback.add_event_listener(events.append)
        await playback.open()
        try:
            feed_all(playback, "a", tone(300, 2.0))
            await until(lambda: playback.played_samples("a") > 2400, within=15, what="playing")
            assert pulse.kill_streams("sink-input") >= 1
            await until(lambda: any(e.kind == "lost" for e in events), what="loss reported")
            assert not playback.is_open
            return events, playback.lost_message
        finally:
            await playback.close()

    events, message = asyncio.run(scenario())
    assert message is not None and "speaker stopped" in message
    assert [e.message for e in events if e.kind == "lost"] == [message]
