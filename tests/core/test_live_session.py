"""GPT-Live through the same driver as Realtime, against the loopback Live server that validates every client
event with `openai.types.live`: the start handshake, continuous paced audio, push-to-talk as mute/unmute, Stop
with what was heard, Responses-delegated tool calls, usage at the per-second price, errors, reconnect with the
history in `input`."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from desktop.core import effects as fx
from desktop.core.config import AuthStyle, ConnectionConfig, SessionConfig, TurnMode
from desktop.core.driver import RealtimeDriver
from desktop.core.live import STOP_INSTRUCTION, LiveSession
from desktop.core.state import TurnState
from tests.support.live_server import LiveTestServer
from tests.support.realtime_server import TEST_KEY

TOOLS = ({"type": "function", "name": "calculate", "description": "Arithmetic.",
          "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}}},)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started(session: LiveSession) -> None:
    session.connection_opened()
    session.take_outgoing()
    session.receive(json.dumps({"type": "session.started", "event_id": "e1",
                                "session": {"id": "s", "model": "gpt-live-1.1", "status": "active",
                                            "expires_at": 0}}))


# ---------------------------------------------------------------------------------------- the state machine


def test_nothing_but_session_start_before_session_started() -> None:
    session = LiveSession(SessionConfig(model="gpt-live-1.1", tools=TOOLS))
    session.connection_opened()
    session.audio(b"\x01\x00" * 480)
    session.press()
    out = session.take_outgoing()
    assert [e["type"] for e in out] == ["session.start"]
    start = out[0]["session"]
    assert start["model"] == "gpt-live-1.1" and start["audio"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert start["delegation"]["type"] == "responses"
    assert [t["name"] for t in start["delegation"]["responses"]["tools"]] == ["calculate"]


def test_tick_pads_the_input_with_silence_in_real_time() -> None:
    clock = Clock()
    session = LiveSession(SessionConfig(model="gpt-live-1"), clock=clock)
    started(session)
    session.take_outgoing()
    clock.now += 1.0
    session.audio(b"\x00\x10" * 2400)  # 100 ms of microphone
    session.tick()
    sent = sum(len(base64.b64decode(e["audio"])) // 2 for e in session.take_outgoing()
               if e["type"] == "session.input_audio.append")
    assert 24000 - 2400 <= sent <= 24000  # one second in all, mic included, never ahead of the clock


def test_push_to_talk_is_mute_while_up_and_unmute_while_held() -> None:
    session = LiveSession(SessionConfig(model="gpt-live-1", turn_mode=TurnMode.PUSH_TO_TALK))
    started(session)
    assert [e["type"] for e in session.take_outgoing()] == ["session.input_audio.mute"]
    session.press()
    session.release()
    assert [e["type"] for e in session.take_outgoing()] == ["session.input_audio.unmute",
                                                           "session.input_audio.mute"]
    session.set_config(SessionConfig(model="gpt-live-1", turn_mode=TurnMode.SERVER_VAD))
    assert [e["type"] for e in session.take_outgoing()] == ["session.input_audio.unmute"]


def test_stop_cuts_the_transcript_at_what_was_heard_and_tells_the_model() -> None:
    clock = Clock()
    heard: list[str] = []

    def stop_playback(item_id: str) -> int:
        heard.append(item_id)
        return 12000  # half of the second received

    session = LiveSession(SessionConfig(model="gpt-live-1", turn_mode=TurnMode.SERVER_VAD), clock=clock,
                          stop_playback=stop_playback)
    started(session)
    for word in "one two three four".split():
        session.receive(json.dumps({"type": "session.output_transcript.delta", "event_id": "t", "delta": word + " ",
                                    "start_ms": 0, "end_ms": 0}))
    session.receive(json.dumps({"type": "session.output_audio.delta", "delta":
                                base64.b64encode(b"\x00\x01" * 24000).decode()}))
    assert session.state is TurnState.SPEAKING
    session.take_outgoing()
    session.take_effects()
    assert session.interrupt() is True
    effects = session.take_effects()
    cut = [e.entry for e in effects if isinstance(e, fx.TranscriptChanged)][-1]
    assert cut.interrupted and cut.heard_text.strip() == "one two" and heard == [cut.item_id]
    assert any(isinstance(e, fx.StopPlayback) for e in effects)
    [append] = session.take_outgoing()
    assert append["type"] == "session.instructions.append" and append["delegation_id"] is None
    assert append["content"] == STOP_INSTRUCTION.format(heard="one two")
    # The tail of the stopped speech is dropped, not played.
    tail = base64.b64encode(b"\0\1" * 10).decode()
    session.receive(json.dumps({"type": "session.output_audio.delta", "delta": tail}))
    assert not [e for e in session.take_effects() if isinstance(e, fx.PlayAudio)]


def test_usage_is_priced_per_second() -> None:
    session = LiveSession(SessionConfig(model="gpt-live-1"))
    started(session)
    session.take_effects()
    session.receive(json.dumps({"type": "session.usage.updated", "event_id": "u", "usage": {"seconds": 90}}))
    [usage] = [e for e in session.take_effects() if isinstance(e, fx.UsageChanged)]
    assert usage.cost_usd == pytest.approx(1.5 * 0.05) and usage.meter == "$0.075"  # $0.05 a minute
    assert "90 s" in usage.detail
    # A reconnect starts a new server session at zero seconds: the conversation's cost keeps counting.
    session.connection_lost(None, reconnecting=True)
    started(session)
    session.receive(json.dumps({"type": "session.usage.updated", "event_id": "u", "usage": {"seconds": 30}}))
    [usage] = [e for e in session.take_effects() if isinstance(e, fx.UsageChanged)]
    assert usage.cost_usd == pytest.approx(2.0 * 0.05)


def test_an_unpriced_live_model_counts_seconds() -> None:
    session = LiveSession(SessionConfig(model="gpt-live-9-preview"))
    started(session)
    session.take_effects()
    session.receive(json.dumps({"type": "session.usage.updated", "event_id": "u", "usage": {"seconds": 12}}))
    [usage] = [e for e in session.take_effects() if isinstance(e, fx.UsageChanged)]
    assert usage.cost_usd is None and usage.meter == "12 s"


def test_malformed_and_unknown_events_are_reported_not_raised() -> None:
    session = LiveSession(SessionConfig(model="gpt-live-1"))
    started(session)
    session.take_effects()
    session.receive("{not json")
    session.receive(json.dumps({"type": "session.output_audio.delta"}))  # no delta
    session.receive(json.dumps({"type": "session.something.new", "event_id": "x"}))
    errors = [e for e in session.take_effects() if isinstance(e, fx.ErrorRaised)]
    assert len(errors) == 2 and "not JSON" in str(errors[0].error) and "malformed" in str(errors[1].error)


# ---------------------------------------------------------------------------------------- through the driver


class Recorder:
    def __init__(self) -> None:
        self.effects: list[Any] = []

    def __call__(self, effect: Any) -> None:
        self.effects.append(effect)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]


async def until(predicate: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


@pytest.fixture
def server(live_server: LiveTestServer) -> Iterator[LiveTestServer]:
    yield live_server
    assert live_server.violations == []


def connection(server: LiveTestServer) -> ConnectionConfig:
    return ConnectionConfig(api_key=TEST_KEY, model="gpt-live-1.1", url=server.url, auth_style=AuthStyle.BEARER,
                            protocol="live")


def test_close_waits_for_session_closed_and_sends_nothing_after_session_close(server: LiveTestServer) -> None:
    server.close_delay_s = 0.3  # finalising takes the server a moment

    async def main() -> None:
        driver = RealtimeDriver(connection(server), SessionConfig(model="gpt-live-1.1"), on_effect=Recorder(),
                                tick_s=0.01)
        await driver.connect()
        await until(lambda: driver.session.state is TurnState.IDLE)
        closing = asyncio.create_task(driver.close())
        await asyncio.sleep(0)  # session.close is on its way
        driver.audio(b"\x00\x10" * 480)  # a microphone chunk arriving meanwhile (and the ticker pads silence)
        await closing
        assert isinstance(driver.session, LiveSession) and driver.session.finalised
        assert server.received_types()[-1] == "session.close"  # the fixture fails on anything sent after it

    asyncio.run(main())


def test_a_full_duplex_turn_with_a_delegated_tool_call(server: LiveTestServer) -> None:
    async def main() -> None:
        recorder = Recorder()

        async def run_tool(call: fx.FunctionCallRequested) -> str:
            return json.dumps({"result": 84, "called": call.name})

        driver = RealtimeDriver(connection(server), SessionConfig(model="gpt-live-1.1", tools=TOOLS,
                                                                  turn_mode=TurnMode.SERVER_VAD),
                                on_effect=recorder, function_handler=run_tool, tick_s=0.05)
        await driver.connect()
        await until(lambda: driver.session.state is TurnState.IDLE)
        driver.audio(b"\x00\x10" * 960)
        await asyncio.to_thread(server.hear, "what is twelve times seven")
        await asyncio.to_thread(server.call_tool, "calculate", {"expression": "12*7"})
        await until(lambda: "response.create" in server.received_types())
        output = next(e for e in server.received if e["type"] == "response.item.create")
        assert json.loads(output["item"]["output"])["result"] == 84 and output["item"]["call_id"] == "call_1"
        await asyncio.wrap_future(server.say("It is eighty four.", seconds=0.6))
        await until(lambda: any(e.entry.role == "assistant" and e.entry.done
                                for e in recorder.of(fx.TranscriptChanged)))
        texts = {e.entry.role: e.entry.text.strip() for e in recorder.of(fx.TranscriptChanged)}
        assert texts == {"user": "what is twelve times seven", "assistant": "It is eighty four."}
        played = b"".join(e.pcm for e in recorder.of(fx.PlayAudio))
        assert len(played) == 0.6 * 24000 * 2
        assert recorder.of(fx.UsageChanged)
        await driver.close()
        assert server.received_types()[-1] == "session.close"

    asyncio.run(main())
    assert server.received_types()[0] == "session.start"
    # Audio flowed continuously: the microphone's 40 ms and silence around it.
    assert len(server.received_audio()) >= 960 * 2


def test_a_continued_conversation_starts_with_its_text_in_input() -> None:
    from desktop.core.conversation import TranscriptEntry

    session = LiveSession(SessionConfig(model="gpt-live-1"))
    session.seed([TranscriptEntry("u1", "user", "Remember pelican.", done=True),
                  TranscriptEntry("a1", "assistant", "I will remember pelican.", done=True)])
    session.connection_opened()
    [start] = session.take_outgoing()
    assert [(m["role"], m["content"][0]["text"]) for m in start["session"]["input"]] == [
        ("user", "Remember pelican."), ("assistant", "I will remember pelican.")]


def test_reconnect_puts_the_text_history_in_input(server: LiveTestServer) -> None:
    async def main() -> None:
        recorder = Recorder()
        driver = RealtimeDriver(connection(server), SessionConfig(model="gpt-live-1.1",
                                                                  turn_mode=TurnMode.SERVER_VAD),
                                on_effect=recorder, tick_s=0.05, reconnect_delay_s=0.05)
        await driver.connect()
        await until(lambda: driver.session.state is TurnState.IDLE)
        await asyncio.to_thread(server.hear, "hello there")
        await asyncio.wrap_future(server.say("Hi, how can I help?", seconds=0.3))
        await until(lambda: any(e.entry.done and e.entry.role == "assistant"
                                for e in recorder.of(fx.TranscriptChanged)))
        await asyncio.wrap_future(server.close_session("expired", code=1001))
        await until(lambda: server.received_types().count("session.start") == 2)
        await driver.close()

    asyncio.run(main())
    second = [e for e in server.received if e["type"] == "session.start"][1]
    history = [(m["role"], m["content"][0]["text"]) for m in second["session"]["input"]]
    assert history == [("user", "hello there"), ("assistant", "Hi, how can I help?")]


def test_an_error_event_is_shown_and_the_session_goes_on(server: LiveTestServer) -> None:
    async def main() -> None:
        recorder = Recorder()
        driver = RealtimeDriver(connection(server), SessionConfig(model="gpt-live-1.1"), on_effect=recorder,
                                tick_s=0.05)
        await driver.connect()
        await until(lambda: driver.session.state is TurnState.IDLE)
        server.send({"type": "error", "event_id": "e9", "error": {"type": "invalid_request_error",
                                                                  "code": "bad_thing", "message": "nope"}})
        server.send({"type": "info", "event_id": "e10", "code": "heads_up", "message": "fyi"})
        await until(lambda: bool(recorder.of(fx.ErrorRaised)))
        assert "bad_thing" in str(recorder.of(fx.ErrorRaised)[0].error)
        driver.press()
        driver.release()
        await until(lambda: server.received_types().count("session.input_audio.mute") >= 2)
        await driver.close()

    asyncio.run(main())
