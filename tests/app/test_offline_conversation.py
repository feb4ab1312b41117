"""The app end to end against the offline engine on the real PulseAudio devices: no key, no network; hold to
talk, say something, hear a spoken reply. The engine is the real one (desktop/engine), started by the
controller as a child process exactly as for a user."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.support.app_harness import start_app, stop_app, until
from tests.support.pulse import PulseServer
from tests.support.sounds import speech_wav

pytestmark = pytest.mark.slow
pytest.importorskip("faster_whisper", reason="the offline extra is not installed")


def test_hold_to_talk_gets_a_spoken_answer_offline(qloop: asyncio.Runner, pulse: PulseServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pulse.stop_sounds()
    transcripts: dict[str, tuple[str, str]] = {}

    async def scenario() -> None:
        app = await start_app(None, tmp_path, backend="offline")  # type: ignore[arg-type]
        app.controller.transcript_updated.connect(
            lambda item_id, role, text, done: transcripts.__setitem__(item_id, (role, text)))
        try:
            assert app.controller.backend is not None and app.controller.backend.kind == "offline"
            assert app.window.connection_label.text().endswith("Offline engine")
            assert app.window.connection_label.toolTip().startswith("Offline engine\nws://127.0.0.1:")
            speaker = pulse.record_speaker()
            app.controller.press_talk()
            playing = pulse.play_into_mic(speech_wav("What time is it?"))
            await asyncio.to_thread(playing.wait)
            await until(lambda: app.controller.audio.capture.stats.blocks > 0)
            app.controller.release_talk()
            await until(lambda: app.controller.turn_state == "speaking", within=20, what="the engine answering")
            await until(lambda: app.controller.turn_state == "idle", within=30, what="the answer played")
            await until(lambda: app.window.cost_label.text() == "Free", what="the meter: the engine costs nothing")
            recorded = await asyncio.to_thread(speaker.stop)
        finally:
            await stop_app(app)
        said = [text for role, text in transcripts.values() if role == "user"]
        answers = [text for role, text in transcripts.values() if role == "assistant"]
        assert any("time" in text.lower() for text in said), transcripts
        assert any(any(ch.isdigit() for ch in text) for text in answers), transcripts
        loud = np.abs(recorded.astype(np.int32)) > 1000
        assert loud.sum() > 0.3 * 24000 / 4, "hardly any reply audio reached the speaker"

    qloop.run(scenario())
