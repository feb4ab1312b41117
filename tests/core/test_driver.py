"""The driver against the reference server on 127.0.0.1: real WebSocket, real handshake, real close codes."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from desktop.core import AuthStyle, ConnectionConfig, RealtimeDriver, SessionConfig, TurnMode, TurnState
from desktop.core.effects import Effect, ErrorRaised, FunctionCallRequested, PlayAudio, UsageChanged
from desktop.core.errors import (
    AuthError,
    ConnectFailedError,
    InsecureUrlError,
    NotFoundError,
    ServerError,
    SessionExpiredError,
)
from tests.support.realtime_server import TEST_KEY, RealtimeTestServer, ResponseScript, spoken_tone


async def until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


class Client:
    def __init__(
        self, server: RealtimeTestServer, mode: TurnMode = TurnMode.PUSH_TO_TALK, **kwargs: Any
    ) -> None:
        self.effects: list[Effect] = []
        self.played: dict[str, int] = {}
        self.driver = RealtimeDriver(
            ConnectionConfig(api_key=TEST_KEY, url=server.url),
            SessionConfig(turn_mode=mode, tools=kwargs.pop("tools", ())),
            on_effect=self.effects.append,
            played_samples=lambda item: self.played.get(item, 0),
            reconnect_delay_s=0.05,
            **kwargs,
        )

    def of(self, kind: type) -> list[Any]:
        return [effect for effect in self.effects if isinstance(effect, kind)]

    async def __aenter__(self) -> Client:
        await self.driver.connect()
        await until(
            lambda: (
                self.driver.session.state is TurnState.IDLE and bool(self.driver.session.effective_session)
            )
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.driver.close()


def speech(ms: int) -> bytes:
    return spoken_tone(ms / 1000)


async def talk(client: Client, ms: int = 600) -> None:
    client.driver.press()
    pcm = speech(ms)
    for start in range(0, len(pcm), 960):
        client.driver.audio(pcm[start : start + 960])
    client.driver.release()


def test_push_to_talk_turn_end_to_end(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            update = await realtime_server.async_wait_for("session.update")
            assert update["session"]["audio"]["input"]["turn_detection"] is None
            await talk(client)
            await realtime_server.async_wait_sent("response.done")
            await until(lambda: bool(client.of(UsageChanged)))
            pcm = b"".join(p.pcm for p in client.of(PlayAudio))
            assert len(pcm) == len(spoken_tone())
            assert client.driver.session.state is TurnState.SPEAKING
            item = client.of(PlayAudio)[0].item_id
            client.played[item] = len(pcm) // 2
            await until(lambda: client.driver.session.state is TurnState.IDLE)
            texts = [e.text for e in client.driver.session.conversation.entries()]
            assert texts == [realtime_server.user_transcript, realtime_server.default_script.transcript]

    asyncio.run(run())
    types = realtime_server.received_types()
    assert types[:3] == ["session.update", "input_audio_buffer.clear", "input_audio_buffer.append"]
    assert types[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert not any(h.get("openai-beta") for h in realtime_server.handshakes)
    assert realtime_server.violations == []


def test_too_short_press_never_commits(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            await talk(client, ms=80)
            await realtime_server.async_wait_for("input_audio_buffer.clear")
            await realtime_server.async_wait_for("input_audio_buffer.clear")

    asyncio.run(run())
    assert "input_audio_buffer.commit" not in realtime_server.received_types()
    assert not [e for e in realtime_server.sent if e["type"] == "error"]


def test_interrupt_mid_reply_then_after_finish(realtime_server: RealtimeTestServer) -> None:
    realtime_server.script_response(speed=1.0)  # real time: there is time to interrupt mid-reply

    async def run() -> None:
        async with Client(realtime_server) as client:
            await talk(client)
            await until(lambda: sum(len(p.pcm) for p in client.of(PlayAudio)) >= 24_000)  # 0.5 s received
            client.driver.interrupt(played_samples=7_200)  # 300 ms heard
            client.driver.interrupt(played_samples=9_600)  # duplicate: nothing more
            cancel = await realtime_server.async_wait_for("response.cancel")
            truncate = await realtime_server.async_wait_for("conversation.item.truncate")
            assert truncate["audio_end_ms"] == 300 and truncate["content_index"] == 0
            assert cancel["response_id"]
            done = await realtime_server.async_wait_sent("response.done")
            assert done["response"]["status"] == "cancelled"
            await realtime_server.async_wait_sent("conversation.item.truncated")
            received = sum(len(p.pcm) for p in client.of(PlayAudio))
            # second turn: runs to the end, then interrupt while it still "plays"
            await talk(client)
            await realtime_server.async_wait_sent("response.done", count=2)
            await until(lambda: len(client.of(UsageChanged)) == 2)
            assert sum(len(p.pcm) for p in client.of(PlayAudio)) == received + len(spoken_tone())
            client.driver.interrupt(played_samples=12_000)
            truncate2 = await realtime_server.async_wait_for("conversation.item.truncate")
            assert truncate2["audio_end_ms"] == 500
            await realtime_server.async_wait_sent("conversation.item.truncated", count=2)

    asyncio.run(run())
    types = realtime_server.received_types()
    assert types.count("response.cancel") == 1 and types.count("conversation.item.truncate") == 2
    assert not [e for e in realtime_server.sent if e["type"] == "error"]
    assert realtime_server.violations == []


def test_hands_free_turns_and_barge_in(realtime_server: RealtimeTestServer) -> None:
    realtime_server.script_response(speed=1.0)

    async def run() -> None:
        async with Client(realtime_server, mode=TurnMode.SERVER_VAD) as client:
            silence = b"\x00\x00" * 480
            for chunk in [speech(400)[i : i + 960] for i in range(0, 19200, 960)] + [silence] * 40:
                client.driver.audio(chunk)
            await until(lambda: client.driver.session.state is TurnState.SPEAKING)
            client.played[client.of(PlayAudio)[0].item_id] = 1_200  # 50 ms, less than received
            for i in range(0, 19200, 960):  # the user talks over the answer
                client.driver.audio(speech(400)[i : i + 960])
            truncate = await realtime_server.async_wait_for("conversation.item.truncate")
            assert truncate["audio_end_ms"] == 50
            await until(lambda: client.driver.session.state is TurnState.LISTENING)

    asyncio.run(run())
    assert "response.cancel" not in realtime_server.received_types()  # the server cancelled by itself
    assert [e["type"] for e in realtime_server.sent].count("input_audio_buffer.speech_started") == 2
    assert not [e for e in realtime_server.sent if e["type"] == "error"]
    assert realtime_server.violations == []


def test_speech_the_server_heard_before_a_typed_request_still_gets_its_turn_answered(
    realtime_server: RealtimeTestServer,
) -> None:
    # The user typed, then spoke before the server got to the response.create: the server's speech_started
    # found nothing running to cancel and the response it then created would play on while the app dropped it,
    # and with it running the server would not answer the spoken turn (the app stayed "thinking").
    realtime_server.script_response(speed=1.0, think_s=0.3)  # the typed request's answer: slow, never heard
    realtime_server.script_response(speed=8.0)  # the answer to the spoken turn

    async def run() -> None:
        async with Client(realtime_server, mode=TurnMode.SERVER_VAD) as client:
            for i in range(0, 19200, 960):  # in the same loop step: the speech reaches the server first
                client.driver.audio(speech(400)[i : i + 960])
            client.driver.send_text("Go on.")
            await realtime_server.async_wait_sent("response.created")
            for _ in range(40):  # then goes quiet: the microphone's pace, 20 ms a chunk
                client.driver.audio(b"\x00\x00" * 480)
                await asyncio.sleep(0.02)
            await until(lambda: client.driver.session.state is TurnState.SPEAKING)
            created = [e["response"]["id"] for e in realtime_server.sent if e["type"] == "response.created"]
            assert len(created) == 2
            cancel = await realtime_server.async_wait_for("response.cancel")
            assert cancel["response_id"] == created[0]
            played = {e.item_id for e in client.of(PlayAudio)}
            answer = {e["item_id"] for e in realtime_server.sent if e["type"] == "response.output_audio.delta"
                      and e["response_id"] == created[1]}
            assert played and played == answer  # only the spoken turn's answer reached the speaker

    asyncio.run(run())
    kinds = [e["type"] for e in realtime_server.sent]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.created")
    assert realtime_server.violations == []


def test_server_asked_for_sustained_speech_ignores_lone_loud_frames(realtime_server: RealtimeTestServer) -> None:
    realtime_server.speech_frames = 3  # as the echo tests ask: 60 ms of loud audio make speech

    def tone(ms: int) -> bytes:
        t = np.arange(ms * 24) / 24_000
        return (3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()

    async def run() -> None:
        async with Client(realtime_server, mode=TurnMode.SERVER_VAD) as client:
            quiet = b"\x00\x00" * 4800  # 200 ms
            for pcm in [quiet * 5, tone(20), quiet * 5, tone(40), quiet * 5, tone(100), quiet * 5]:
                client.driver.audio(pcm)
            await realtime_server.async_wait_sent("input_audio_buffer.speech_stopped")

    asyncio.run(run())
    started = [e for e in realtime_server.sent if e["type"] == "input_audio_buffer.speech_started"]
    assert len(started) == 1, "a lone 20 or 40 ms burst is not speech; 100 ms is"
    update = next(e for e in realtime_server.received if e["type"] == "session.update")
    padding = update["session"]["audio"]["input"]["turn_detection"].get("prefix_padding_ms", 300)
    assert started[0]["audio_start_ms"] == 1000 + 20 + 1000 + 40 + 1000 - padding  # from the run's first frame


def test_mode_switch_mid_session(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            client.driver.set_config(SessionConfig(turn_mode=TurnMode.SEMANTIC_VAD))
            await realtime_server.async_wait_for("session.update")
            update = await realtime_server.async_wait_for("session.update")
            assert update["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
            client.driver.set_config(SessionConfig(turn_mode=TurnMode.PUSH_TO_TALK))
            update = await realtime_server.async_wait_for("session.update")
            assert update["session"]["audio"]["input"]["turn_detection"] is None
            await realtime_server.async_wait_sent("session.updated", count=3)
            await until(
                lambda: client.driver.session.effective_session["audio"]["input"]["turn_detection"] is None
            )

    asyncio.run(run())
    assert realtime_server.violations == []


def test_function_call_round_trip(realtime_server: RealtimeTestServer) -> None:
    calls: list[tuple[str, str]] = []

    async def handler(call: FunctionCallRequested) -> str:
        assert call.call_id
        calls.append((call.name, call.arguments))
        return json.dumps({"time": "12:00"})

    tool = {"type": "function", "name": "get_time", "description": "time", "parameters": {"type": "object"}}
    realtime_server.script_response(function_calls=[("get_time", "{}"), ("get_time", '{"zone": "UTC"}')])

    async def run() -> None:
        async with Client(realtime_server, tools=(tool,), function_handler=handler) as client:
            await talk(client)
            await realtime_server.async_wait_for("response.create")
            await realtime_server.async_wait_for("response.create")  # the follow-up
            await realtime_server.async_wait_sent("response.done", count=2)
            await until(lambda: len(client.of(UsageChanged)) == 2)

    asyncio.run(run())
    assert calls == [("get_time", "{}"), ("get_time", '{"zone": "UTC"}')]
    types = realtime_server.received_types()
    tail = types[types.index("input_audio_buffer.commit") :]
    assert tail == [
        "input_audio_buffer.commit",
        "response.create",
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
    assert not [e for e in realtime_server.sent if e["type"] == "error"]
    assert realtime_server.violations == []


def test_server_error_events_surface_and_junk_survives(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            realtime_server.send("{this is not json")
            realtime_server.send({"type": "something.new", "x": 1})
            client.driver.session._send({"type": "response.cancel", "event_id": "evt_test_cancel"})
            client.driver.press()  # flushes the hand-made cancel
            await until(lambda: bool(client.of(ErrorRaised)))
            [raised] = client.of(ErrorRaised)
            assert isinstance(raised.error, ServerError)
            assert raised.error.info.code == "response_cancel_not_active"
            assert raised.error.info.event_id == "evt_test_cancel"
            assert raised.error.info.caused_by == "response.cancel"
            await talk(client)  # still working
            await realtime_server.async_wait_sent("response.done")

    asyncio.run(run())


def test_bad_key_is_a_typed_auth_error_without_retry(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        effects: list[Effect] = []
        driver = RealtimeDriver(
            ConnectionConfig(
                api_key="wrong-key-not-a-secret", url=realtime_server.url, auth_style=AuthStyle.API_KEY
            ),
            SessionConfig(),
            on_effect=effects.append,
        )
        with pytest.raises(AuthError) as info:
            await driver.connect()
        assert info.value.status == 401 and "wrong-key" not in str(info.value)
        assert driver.session.state is TurnState.ERROR
        await driver.close()

    asyncio.run(run())
    assert len(realtime_server.handshakes) == 1


def test_api_key_header_is_accepted(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        driver = RealtimeDriver(
            ConnectionConfig(api_key=TEST_KEY, url=realtime_server.url, auth_style=AuthStyle.API_KEY),
            SessionConfig(),
            on_effect=print,
        )
        await driver.connect()
        await realtime_server.async_wait_sent("session.updated")
        await driver.close()

    asyncio.run(run())


def test_wrong_path_is_not_found(realtime_server: RealtimeTestServer) -> None:
    url = realtime_server.url.replace("/v1/realtime", "/v1/realtimes")

    async def run() -> None:
        driver = RealtimeDriver(ConnectionConfig(api_key=TEST_KEY, url=url), SessionConfig(), on_effect=print)
        with pytest.raises(NotFoundError):
            await driver.connect()

    asyncio.run(run())


def test_refused_connection_and_insecure_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def run() -> None:
        driver = RealtimeDriver(
            ConnectionConfig(url=f"ws://127.0.0.1:{port}/v1/realtime"), SessionConfig(), on_effect=print
        )
        with pytest.raises(ConnectFailedError):
            await driver.connect()
        insecure = RealtimeDriver(
            ConnectionConfig(url="ws://example.com/v1/realtime"), SessionConfig(), on_effect=print
        )
        with pytest.raises(InsecureUrlError):
            await insecure.connect()

    asyncio.run(run())


def test_close_1001_is_typed_expiry_then_reconnect_replays_text(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            client.driver.send_text("remember the word banana")
            await realtime_server.async_wait_sent("response.done")
            await until(lambda: bool(client.of(PlayAudio)))
            client.played[client.of(PlayAudio)[0].item_id] = 1 << 40  # heard in full (unheard words are not replayed)
            realtime_server.close_connections(1001, "Your session hit the maximum duration of 60 minutes.")
            await until(lambda: any(isinstance(e.error, SessionExpiredError) for e in client.of(ErrorRaised)))
            await until(lambda: realtime_server.received_types().count("session.update") == 2)
            await until(lambda: client.driver.session.state is TurnState.IDLE)
            # the replay follows the new session's update; the server reads it a moment after the client sent it
            await until(lambda: realtime_server.received_types()[-1] == "conversation.item.create"
                        and realtime_server.received[-1]["item"]["role"] == "assistant")

    asyncio.run(run())
    replayed = [e for e in realtime_server.received if e["type"] == "conversation.item.create"]
    assert replayed[-2]["item"]["content"][0]["text"] == "remember the word banana"
    assert replayed[-1]["item"]["role"] == "assistant"
    assert realtime_server.violations == []


def test_update_rejected_by_server_is_reported(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            bad = {
                "type": "session.update",
                "event_id": "evt_bad_update",
                "session": {"type": "realtime", "temperature": 0.8},
            }
            client.driver.session._send(bad)
            client.driver.stop()
            error = await realtime_server.async_wait_sent("error")
            assert error["error"]["param"] == "session.temperature"
            await until(lambda: bool(client.of(ErrorRaised)))

    asyncio.run(run())
    assert realtime_server.violations == ["session.update: undeclared field session.temperature"]


def test_beta_event_names_play_audio(realtime_server: RealtimeTestServer) -> None:
    async def run() -> None:
        async with Client(realtime_server) as client:
            import base64

            realtime_server.send({"type": "response.created", "response": {"id": "resp_beta"}})
            raw = json.dumps(
                {
                    "type": "response.audio.delta",
                    "event_id": "e1",
                    "response_id": "resp_beta",
                    "item_id": "item_beta",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": base64.b64encode(b"\x01\x00" * 2400).decode(),
                }
            )
            realtime_server.send(raw)
            await until(lambda: bool(client.of(PlayAudio)))
            assert client.of(PlayAudio)[0].item_id == "item_beta"

    asyncio.run(run())


def test_reference_server_streams_requested_script(realtime_server: RealtimeTestServer) -> None:
    realtime_server.script_response(
        ResponseScript(audio=b"\x02\x00" * 12_000, transcript="short", chunk_ms=50, speed=0)
    )

    async def run() -> None:
        async with Client(realtime_server) as client:
            client.driver.send_text("hi")
            await realtime_server.async_wait_sent("response.done")
            await until(lambda: bool(client.of(UsageChanged)))
            assert len(client.of(PlayAudio)) == 10

    asyncio.run(run())
