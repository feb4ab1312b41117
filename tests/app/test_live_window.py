"""GPT-Live end to end: the real window and audio engine on PulseAudio against the loopback Live server, which
validates every client event with `openai.types.live`. The same window, tools and cost meter serve both
protocols; only the backend knows which is in use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app_harness import TEST_KEY, start_app, stop_app, until
from tests.support.live_server import LiveTestServer
from tests.support.pulse import PulseServer

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _key_and_quiet_room(monkeypatch: pytest.MonkeyPatch, pulse: PulseServer) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    pulse.stop_sounds()
    yield
    pulse.stop_sounds()


@pytest.fixture
def server(live_server: LiveTestServer) -> Iterator[LiveTestServer]:
    yield live_server
    assert live_server.violations == []


def test_hands_free_reply_plays_and_stop_tells_the_model_what_was_heard(
        qloop: asyncio.Runner, tmp_path: Path, server: LiveTestServer) -> None:
    async def scenario() -> None:
        app = await start_app(server.url, tmp_path, hands_free=True, model="gpt-live-1.1")
        try:
            assert app.controller.backend is not None and app.controller.backend.protocol == "live"
            await until(lambda: len(server.received_audio()) > 24000, what="a second of microphone audio")
            played: list[int] = []
            app.controller.assistant_samples.connect(lambda pcm: played.append(len(pcm)))
            await asyncio.to_thread(server.hear, "tell me about the sea")
            speech = server.say("The sea is wide and deep and full of fish that swim all day long.",
                                seconds=4.0, pace=1.0)
            await until(lambda: sum(played) > 24000 * 0.5, what="half a second of the reply played")
            app.window.stop_button.click()
            await until(lambda: "session.instructions.append" in server.received_types(), what="stop told")
            await asyncio.wrap_future(speech)
            stop = next(e for e in server.received if e["type"] == "session.instructions.append")
            assert stop["delegation_id"] is None and "Stop speaking" in stop["content"]
            heard, unheard = app.recorder.truncated[-1][1], app.recorder.truncated[-1][2]
            assert heard.strip() in stop["content"] and unheard.strip()  # the model hears what the user heard
            text = app.window.transcript.plain_text()
            assert "tell me about the sea" in text and "The sea is wide" in text
            await until(lambda: app.window.cost_label.text().startswith("$"), what="the per-second meter")
        finally:
            await stop_app(app)
        assert server.received_types()[0] == "session.start"
        assert server.received_types()[-1] == "session.close"

    qloop.run(scenario())


def test_push_to_talk_is_mute_and_unmute_and_the_window_says_so(
        qloop: asyncio.Runner, tmp_path: Path, server: LiveTestServer) -> None:
    async def scenario() -> None:
        app = await start_app(server.url, tmp_path, model="gpt-live-1")
        try:
            await until(lambda: server.muted, what="muted while the key is up")
            assert "hold the talk key" in app.window.transcript.plain_text()
            app.controller.press_talk()
            await until(lambda: not server.muted, what="unmuted while held")
            app.controller.release_talk()
            await until(lambda: server.muted, what="muted again")
            start = server.received[0]["session"]
            assert start["model"] == "gpt-live-1" and "push-to-talk" in start["instructions"]
        finally:
            await stop_app(app)

    qloop.run(scenario())


def test_a_delegated_tool_call_runs_parleys_tool(
        qloop: asyncio.Runner, tmp_path: Path, server: LiveTestServer) -> None:
    async def scenario() -> None:
        app = await start_app(server.url, tmp_path, hands_free=True, model="gpt-live-1.1")
        try:
            start = server.received[0]["session"]
            names = [tool["name"] for tool in start["delegation"]["responses"]["tools"]]
            assert "calculate" in names and "get_current_time" in names
            await asyncio.wrap_future(server.call_tool("calculate", {"expression": "12*7"}))
            await until(lambda: "response.create" in server.received_types(), what="the delegation continued")
            output = next(e for e in server.received if e["type"] == "response.item.create")
            assert json.loads(output["item"]["output"])["result"] == 84
        finally:
            await stop_app(app)

    qloop.run(scenario())
