"""The engine over a real WebSocket: push-to-talk and hands-free turns with espeak-ng speech, the skills'
answers, reply audio that is real speech, cancel, truncate, tools, timers, and protocol errors. Every event
the engine sends is checked against the `openai` package's models."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.engine.conftest import RunningEngine
from tests.engine.helpers import PUSH_TO_TALK, EngineClient, silence, speech

pytestmark = pytest.mark.slow


def _spoken_times(now: dt.datetime) -> set[str]:
    """The clock as the engine says it ("8:47 PM") for now and the minute before (a turn may cross one)."""
    times = set()
    for moment in (now, now - dt.timedelta(minutes=1)):
        times.add(f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}")
    return times


async def _finish(client: EngineClient) -> None:
    await client.close()
    assert client.problems == []


def test_push_to_talk_time_is_recognised_and_answered(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.push_to_talk(speech("what time is it"))
        committed = await client.next("input_audio_buffer.committed")
        heard = await client.next("conversation.item.input_audio_transcription.completed")
        assert heard["item_id"] == committed["item_id"]
        assert "time" in heard["transcript"].lower()
        said = await client.next("response.output_audio_transcript.done")
        done = await client.next("response.done")
        assert done["response"]["status"] == "completed"
        assert done["response"]["usage"]["output_tokens"] > 0
        assert any(spoken in said["transcript"] for spoken in _spoken_times(dt.datetime.now())), said
        assert len(client.reply_audio(done["response"]["id"])) > 24_000  # more than half a second
        await _finish(client)

    engine.run(scenario())


def test_arithmetic_reply_is_speech_that_recognises_back(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.push_to_talk(speech("what is twelve times seven"))
        heard = await client.next("conversation.item.input_audio_transcription.completed")
        assert re.search(r"12|twelve", heard["transcript"].lower()), heard
        said = await client.next("response.output_audio_transcript.done")
        assert "84" in said["transcript"]
        done = await client.next("response.done")
        reply = client.reply_audio(done["response"]["id"])
        # The reply is fed back as the user's next turn: the engine's recogniser must hear the answer.
        await client.push_to_talk(reply)
        echoed = await client.next("conversation.item.input_audio_transcription.completed")
        assert re.search(r"84|eighty[- ]four", echoed["transcript"].lower()), echoed
        await client.next("response.done")
        await _finish(client)

    engine.run(scenario())


@pytest.mark.parametrize("detection", [
    {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
     "create_response": True, "interrupt_response": True},
    {"type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True},
], ids=["server_vad", "semantic_vad"])
def test_voice_detection_finds_the_turn_and_answers_by_itself(engine: RunningEngine,
                                                             detection: dict[str, object]) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(audio={"input": {"transcription": {"model": "whisper-1"},
                                                "turn_detection": detection}})
        words = speech("what is six plus three")
        await client.append(silence(1.0) + words + silence(1.0))
        started = await client.next("input_audio_buffer.speech_started")
        stopped = await client.next("input_audio_buffer.speech_stopped")
        assert started["item_id"] == stopped["item_id"]
        speech_ms = len(words) / 48
        assert 500 <= started["audio_start_ms"] <= 1000, started
        assert 1000 + speech_ms <= stopped["audio_end_ms"] <= 1000 + speech_ms + 800, (stopped, speech_ms)
        committed = await client.next("input_audio_buffer.committed")
        assert committed["item_id"] == stopped["item_id"]
        heard = await client.next("conversation.item.input_audio_transcription.completed")
        assert re.search(r"6|six", heard["transcript"].lower()), heard
        await client.next("response.created")
        said = await client.next("response.output_audio_transcript.done")
        assert "9" in said["transcript"], said
        assert (await client.next("response.done"))["response"]["status"] == "completed"
        await _finish(client)

    engine.run(scenario())


def test_new_speech_interrupts_a_reply_in_server_vad_mode(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(audio={"input": {"turn_detection": {
            "type": "server_vad", "silence_duration_ms": 400, "create_response": True,
            "interrupt_response": True}}})
        await client.say_text("what can you do")
        await client.next("response.output_audio.delta")
        await client.append(speech("stop"))
        await client.next("input_audio_buffer.speech_started")
        done = await client.next("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        await _finish(client)

    engine.run(scenario())


def test_cancel_stops_the_reply_at_once(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.say_text("what can you do")  # the longest answer: several sentences
        first = await client.next("response.output_audio.delta")
        await client.send({"type": "response.cancel"})
        done = await client.next("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["response"]["output"][0]["status"] == "incomplete"
        # A second cancel finds nothing running; its error is the fence after which nothing may arrive.
        event_id = await client.send({"type": "response.cancel"})
        error = await client.next("error")
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == event_id
        done_at = client.events.index(done)
        late = [event for event in client.events[done_at:] if event["type"] == "response.output_audio.delta"]
        assert late == []
        sent_ms = len(client.reply_audio(first["response_id"])) / 48
        assert sent_ms < 6000, "most of the help text must not have been synthesised"
        await _finish(client)

    engine.run(scenario())


def test_truncate_drops_the_unheard_text_from_the_context(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.say_text("what is twelve times seven")
        added = await client.next("response.output_item.added")
        full = (await client.next("response.output_audio_transcript.done"))["transcript"]
        done = await client.next("response.done")
        item_id = added["item"]["id"]
        audio_ms = len(client.reply_audio(done["response"]["id"])) / 48

        await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                           "audio_end_ms": int(audio_ms) + 500})
        assert (await client.next("error"))["error"]["param"] == "audio_end_ms"
        await client.send({"type": "conversation.item.truncate", "item_id": "item_missing",
                           "content_index": 0, "audio_end_ms": 10})
        assert (await client.next("error"))["error"]["code"] == "item_not_found"

        await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                           "audio_end_ms": int(audio_ms * 0.5)})
        truncated = await client.next("conversation.item.truncated")
        assert truncated["item_id"] == item_id
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        kept = (await client.next("conversation.item.retrieved"))["item"]["content"][0]["transcript"]
        assert full.startswith(kept) and len(kept) < len(full), (kept, full)
        assert "84" not in kept

        await client.say_text("what did you say")  # the engine repeats only what was heard
        repeated = (await client.next("response.output_audio_transcript.done"))["transcript"]
        assert repeated == f"I said: {kept}"
        await client.next("response.done")
        await _finish(client)

    engine.run(scenario())


def test_registered_tool_is_called_and_its_result_spoken(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(tools=[
            {"type": "function", "name": "get_current_time", "description": "Get the local date and time.",
             "parameters": {"type": "object", "properties": {}}},
            {"type": "function", "name": "calculate", "description": "Evaluate an arithmetic expression.",
             "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                            "required": ["expression"]}},
        ], **PUSH_TO_TALK)
        await client.push_to_talk(speech("what is twelve times seven"))
        call = await client.next("response.function_call_arguments.done")
        assert call["name"] == "calculate"
        assert json.loads(call["arguments"]) == {"expression": "12*7"}
        first = await client.next("response.done")
        assert first["response"]["output"][0]["type"] == "function_call"
        assert client.of("response.output_audio.delta", response_id=first["response"]["id"]) == []
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"],
            "output": json.dumps({"expression": "12*7", "result": 84})}})
        await client.next("conversation.item.done")
        await client.send({"type": "response.create"})
        said = await client.next("response.output_audio_transcript.done")
        assert said["transcript"] == "12 times 7 is 84."
        assert (await client.next("response.done"))["response"]["status"] == "completed"
        await _finish(client)

    engine.run(scenario())


def test_timer_is_confirmed_then_announced_unprompted(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.say_text("set a timer for one second")
        confirmed = await client.next("response.output_audio_transcript.done")
        assert confirmed["transcript"] == "Okay, a 1-second timer starts now."
        await client.next("response.done")
        announced = await client.next("response.output_audio_transcript.done", timeout=15)
        assert announced["transcript"] == "Your 1-second timer is done."
        await client.next("response.done")
        assert client.of("input_audio_buffer.committed") == []
        await _finish(client)

    engine.run(scenario())


def test_protocol_errors_keep_the_connection_open(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.append(silence(0.05))
        event_id = await client.send({"type": "input_audio_buffer.commit"})
        error = (await client.next("error"))["error"]
        assert (error["type"], error["code"], error["event_id"]) == (
            "invalid_request_error", "input_audio_buffer_commit_empty", event_id)

        await client.send({"type": "response.cancel"})
        assert (await client.next("error"))["error"]["code"] == "response_cancel_not_active"

        await client.send({"type": "no.such.event"}, check=False)
        error = (await client.next("error"))["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", "type")

        await client.send_raw("{not json")
        assert (await client.next("error"))["error"]["type"] == "invalid_request_error"
        await client.send_raw("[1, 2]")
        await client.next("error")

        await client.send({"type": "session.update", "session": {"type": "realtime", "temperature": 0.8}},
                          check=False)
        error = (await client.next("error"))["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "session.temperature")

        await client.send({"type": "input_audio_buffer.append"}, check=False)
        assert (await client.next("error"))["error"]["code"] == "missing_required_parameter"

        await client.say_text("hello")  # still serving after all that
        said = await client.next("response.output_audio_transcript.done")
        assert said["transcript"].startswith("Hello!")
        await client.send({"type": "response.create"})  # while that one is still in progress or done
        await client.next("response.done")
        await _finish(client)

    engine.run(scenario())


def test_silence_committed_in_push_to_talk_is_not_invented_into_words(engine: RunningEngine) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        await client.configure(**PUSH_TO_TALK)
        await client.push_to_talk(silence(1.5))
        heard = await client.next("conversation.item.input_audio_transcription.completed")
        assert heard["transcript"] == ""
        said = await client.next("response.output_audio_transcript.done")
        assert said["transcript"].startswith("I didn't catch anything")
        await client.next("response.done")
        await _finish(client)

    engine.run(scenario())
