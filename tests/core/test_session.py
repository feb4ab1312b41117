"""The sans-IO session: turn states, interruption bookkeeping and function calls, with no socket at all."""

from __future__ import annotations

import base64
import json
from typing import Any

from desktop.core.config import SessionConfig, TurnMode
from desktop.core.effects import (
    ErrorRaised,
    FunctionCallRequested,
    FunctionCallsAbandoned,
    PlayAudio,
    StateChanged,
    StopPlayback,
    UsageChanged,
)
from desktop.core.errors import ServerError, SessionUpdateError
from desktop.core.session import Session
from desktop.core.state import TurnState

SECOND = 24_000  # samples


class Harness:
    def __init__(self, mode: TurnMode = TurnMode.PUSH_TO_TALK, played: dict[str, int] | None = None) -> None:
        self.now = 0.0
        self.played = played if played is not None else {}
        self.session = Session(
            SessionConfig(turn_mode=mode),
            played_samples=lambda item: self.played.get(item, 0),
            clock=lambda: self.now,
            update_timeout_s=2.0,
        )
        self.session.connection_opened()
        self.sent: list[dict[str, Any]] = []
        self.effects: list[Any] = []
        self.server({"type": "session.created", "session": {}})
        self.server({"type": "session.updated", "session": {}})

    def drain(self) -> list[dict[str, Any]]:
        out = self.session.take_outgoing()
        self.sent += out
        self.effects += self.session.take_effects()
        return out

    def types(self, events: list[dict[str, Any]]) -> list[str]:
        return [event["type"] for event in events]

    def server(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.session.receive(json.dumps(event))
        return self.drain()

    def audio(
        self, response: str, item: str, samples: int, name: str = "response.output_audio.delta"
    ) -> None:
        self.server(
            {
                "type": name,
                "response_id": response,
                "item_id": item,
                "output_index": 0,
                "content_index": 0,
                "delta": base64.b64encode(b"\x01\x00" * samples).decode(),
            }
        )

    def start_response(self, response: str = "r1", item: str = "a1", samples: int = 2 * SECOND) -> None:
        self.server({"type": "response.created", "response": {"id": response}})
        self.server(
            {
                "type": "response.output_item.added",
                "response_id": response,
                "item": {"id": item, "type": "message", "role": "assistant"},
            }
        )
        self.audio(response, item, samples)
        self.server(
            {
                "type": "response.output_audio_transcript.delta",
                "response_id": response,
                "item_id": item,
                "delta": "one two three four",
            }
        )

    def finish_response(self, response: str = "r1", item: str = "a1") -> None:
        self.server({"type": "response.output_audio.done", "response_id": response, "item_id": item})
        self.server(
            {
                "type": "response.done",
                "response": {
                    "id": response,
                    "status": "completed",
                    "usage": {
                        "input_token_details": {
                            "text_tokens": 100,
                            "audio_tokens": 50,
                            "cached_tokens": 40,
                            "cached_tokens_details": {"text_tokens": 40, "audio_tokens": 0},
                        },
                        "output_token_details": {"text_tokens": 20, "audio_tokens": 200},
                    },
                },
            }
        )

    def of(self, kind: type) -> list[Any]:
        return [effect for effect in self.effects if isinstance(effect, kind)]


def test_push_to_talk_turn_states_and_events() -> None:
    h = Harness()
    assert h.session.state is TurnState.IDLE
    h.session.press()
    assert h.types(h.drain()) == ["input_audio_buffer.clear"]
    assert h.session.state is TurnState.LISTENING
    for _ in range(10):
        h.session.audio(b"\x00\x00" * 480)  # 10 x 20 ms
    h.session.release()
    sent = h.drain()
    assert h.types(sent) == ["input_audio_buffer.append"] * 10 + [
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert h.session.state is TurnState.THINKING
    h.start_response()
    assert h.session.state is TurnState.SPEAKING
    assert [p.item_id for p in h.of(PlayAudio)] == ["a1"]
    h.finish_response()
    assert h.session.state is TurnState.SPEAKING  # still playing what arrived faster than real time
    h.played["a1"] = 2 * SECOND
    h.session.tick()
    h.drain()
    assert h.session.state is TurnState.IDLE
    states = [effect.state for effect in h.of(StateChanged)]
    assert states == [
        TurnState.IDLE,
        TurnState.LISTENING,
        TurnState.THINKING,
        TurnState.SPEAKING,
        TurnState.IDLE,
    ]


def test_too_short_press_clears_instead_of_committing() -> None:
    h = Harness()
    h.session.press()
    h.session.audio(b"\x00\x00" * 2400)  # 100 ms < 150 ms
    h.session.release()
    assert h.types(h.drain()) == [
        "input_audio_buffer.clear",
        "input_audio_buffer.append",
        "input_audio_buffer.clear",
    ]
    assert h.session.state is TurnState.IDLE


def test_interrupt_mid_reply_truncates_at_played_time_and_cancels() -> None:
    h = Harness()
    h.start_response(samples=2 * SECOND)
    assert h.session.interrupt(played_samples=SECOND // 2)
    sent = h.drain()
    assert [{k: v for k, v in e.items() if k != "event_id"} for e in sent] == [
        {"type": "response.cancel", "response_id": "r1"},
        {"type": "conversation.item.truncate", "item_id": "a1", "content_index": 0, "audio_end_ms": 500},
    ]
    assert h.of(StopPlayback) == [StopPlayback("a1")]
    entry = h.session.conversation.get("a1")
    assert entry is not None and entry.interrupted and entry.heard_fraction == 0.25
    assert entry.heard_text == "one " and entry.unheard_text == "two three four"
    # a second trigger for the same answer (server speech_started after local VAD) yields nothing
    assert not h.session.interrupt(played_samples=SECOND)
    assert h.drain() == []
    # late deltas of the interrupted response never reach the player
    h.audio("r1", "a1", 4800)
    h.audio("r1", "a1", 4800, name="response.audio.delta")
    assert len(h.of(PlayAudio)) == 1
    assert h.session.state is TurnState.IDLE


def test_truncate_is_clamped_to_received_audio_and_skipped_when_nothing_played() -> None:
    h = Harness()
    h.start_response(samples=SECOND)
    h.session.interrupt(played_samples=5 * SECOND)
    assert [e.get("audio_end_ms") for e in h.drain()] == [None, 1000]
    h2 = Harness()
    h2.start_response(samples=SECOND)
    h2.session.interrupt(played_samples=0)
    assert h2.types(h2.drain()) == ["response.cancel"]


def test_interrupt_after_response_done_truncates_without_cancel() -> None:
    h = Harness(played={"a1": SECOND})
    h.start_response(samples=2 * SECOND)
    h.finish_response()
    h.session.press()  # the answer is still playing: press interrupts first
    sent = h.drain()
    assert h.types(sent) == ["conversation.item.truncate", "input_audio_buffer.clear"]
    assert sent[0]["audio_end_ms"] == 1000
    assert h.session.state is TurnState.LISTENING


def test_press_while_thinking_cancels_the_requested_response_and_drops_it() -> None:
    h = Harness()
    h.session.press()
    h.session.audio(b"\x00\x00" * 4800)
    h.session.release()
    h.drain()
    h.session.press()  # before response.created arrived
    assert h.types(h.drain()) == ["response.cancel", "input_audio_buffer.clear"]
    h.start_response("r9", "a9")
    assert h.of(PlayAudio) == []
    h.server({"type": "response.done", "response": {"id": "r9", "status": "cancelled"}})
    assert h.session.state is TurnState.LISTENING


def test_hands_free_speech_started_interrupts_without_a_cancel() -> None:
    h = Harness(mode=TurnMode.SERVER_VAD, played={"a1": SECOND})
    h.session.audio(b"\x00\x00" * 480)
    assert h.types(h.drain()) == ["input_audio_buffer.append"]  # streams without a press
    h.start_response()
    sent = h.server({"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "u2"})
    assert h.types(sent) == ["conversation.item.truncate"]
    assert h.session.state is TurnState.LISTENING
    h.server({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "u2"})
    assert h.session.state is TurnState.THINKING


def test_server_speech_before_an_asked_response_is_created_cancels_it_once_created() -> None:
    # Typed "Go on.", and the server heard the user start talking before it got to the response.create: its
    # speech_started cancelled nothing (no response was running yet), so the client cancels the one that comes.
    h = Harness(mode=TurnMode.SERVER_VAD)
    h.session.send_text("Go on.")
    assert h.types(h.drain()) == ["conversation.item.create", "response.create"]
    sent = h.server({"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "u2"})
    assert sent == [] and h.session.state is TurnState.LISTENING
    h.server({"type": "response.created", "response": {"id": "r2"}})
    [cancel] = [e for e in h.sent if e["type"] == "response.cancel"]
    assert cancel["response_id"] == "r2"
    h.audio("r2", "a2", SECOND)
    assert h.of(PlayAudio) == []  # never played
    h.server({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "u2"})
    h.server({"type": "response.done", "response": {"id": "r2", "status": "cancelled"}})
    h.start_response("r3", "a3")  # the server answers the user's turn
    assert [e.item_id for e in h.of(PlayAudio)] == ["a3"] and h.session.state is TurnState.SPEAKING
    assert h.types(h.sent).count("response.cancel") == 1


def test_cancel_not_active_after_our_own_cancel_is_not_surfaced() -> None:
    h = Harness(mode=TurnMode.SERVER_VAD)
    h.start_response()
    h.session.interrupt(played_samples=100)
    cancel = h.drain()[0]
    h.server(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "no active response",
                "event_id": cancel["event_id"],
            },
        }
    )
    assert h.of(ErrorRaised) == []


def test_error_events_name_the_client_event_that_caused_them() -> None:
    h = Harness()
    h.session.send_text("hello")
    create = h.drain()[1]
    h.server(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "busy",
                "param": None,
                "event_id": create["event_id"],
            },
        }
    )
    [raised] = h.of(ErrorRaised)
    assert isinstance(raised.error, ServerError)
    assert raised.error.info.caused_by == "response.create"
    assert raised.error.code == "conversation_already_has_active_response"


def test_missing_session_updated_is_a_failure() -> None:
    h = Harness()
    h.session.set_config(SessionConfig(turn_mode=TurnMode.SEMANTIC_VAD))
    [update] = h.drain()
    assert update["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    h.now += 1.0
    h.session.tick()
    h.drain()
    assert h.of(ErrorRaised) == []
    h.now += 1.5
    h.session.tick()
    h.drain()
    [raised] = h.of(ErrorRaised)
    assert isinstance(raised.error, SessionUpdateError)


def test_function_calls_answered_then_one_response_create_after_done() -> None:
    h = Harness()
    h.server({"type": "response.created", "response": {"id": "r1"}})
    for call in ("c1", "c2"):
        h.server(
            {
                "type": "response.function_call_arguments.done",
                "response_id": "r1",
                "item_id": f"i{call}",
                "call_id": call,
                "name": "get_time",
                "arguments": "{}",
            }
        )
        h.server(
            {
                "type": "response.output_item.done",
                "response_id": "r1",
                "item": {
                    "id": f"i{call}",
                    "type": "function_call",
                    "call_id": call,
                    "name": "get_time",
                    "arguments": "{}",
                },
            }
        )
    assert [r.call_id for r in h.of(FunctionCallRequested)] == ["c1", "c2"]  # each once
    h.session.function_result("c1", '"noon"')
    assert h.types(h.drain()) == ["conversation.item.create"]
    h.session.function_result("c2", '"noon"')
    assert h.types(h.drain()) == ["conversation.item.create"]  # no create before response.done
    sent = h.server({"type": "response.done", "response": {"id": "r1", "status": "completed"}})
    assert h.types(sent) == ["response.create"]
    assert h.session.state is TurnState.THINKING


def _two_calls(h: Harness, response: str = "r1") -> None:
    h.server({"type": "response.created", "response": {"id": response}})
    for call in ("c1", "c2"):
        h.server({"type": "response.function_call_arguments.done", "response_id": response, "item_id": f"i{call}",
                  "call_id": call, "name": "slow", "arguments": "{}"})


def test_moving_on_abandons_running_calls_which_are_still_answered_without_a_follow_up() -> None:
    h = Harness()
    _two_calls(h)
    h.session.function_result("c1", '"done"')
    h.server({"type": "response.done", "response": {"id": "r1", "status": "completed"}})
    assert h.of(FunctionCallsAbandoned) == []
    h.session.press()
    h.drain()
    assert [e.call_ids for e in h.of(FunctionCallsAbandoned)] == [("c2",)]
    h.session.function_result("c2", '{"error": "cancelled"}')
    assert h.types(h.drain()) == ["conversation.item.create"]  # answered, and no response.create
    h.session.press()
    h.drain()
    assert len(h.of(FunctionCallsAbandoned)) == 1  # nothing left running: no second report


def test_calls_of_an_interrupted_reply_are_answered_without_running() -> None:
    h = Harness()
    h.server({"type": "response.created", "response": {"id": "r1"}})
    h.server({"type": "response.function_call_arguments.done", "response_id": "r1", "item_id": "i1",
              "call_id": "c1", "name": "slow", "arguments": "{}"})
    h.session.stop()  # cancels r1, abandons c1
    sent = h.drain()
    assert "response.cancel" in h.types(sent)
    h.server({"type": "response.function_call_arguments.done", "response_id": "r1", "item_id": "i2",
              "call_id": "c2", "name": "write", "arguments": "{}"})  # streamed before the server saw the cancel
    assert [r.call_id for r in h.of(FunctionCallRequested)] == ["c1"]  # c2 never runs
    [output] = [e for e in h.sent if e["type"] == "conversation.item.create"]
    assert output["item"]["call_id"] == "c2" and "cancelled" in json.loads(output["item"]["output"])["error"]
    h.session.function_result("c1", '{"error": "cancelled"}')
    sent = h.server({"type": "response.done", "response": {"id": "r1", "status": "cancelled"}})
    assert "response.create" not in h.types(sent)
    assert h.session._responses == {}  # nothing left waiting


def test_hands_free_speech_abandons_running_calls() -> None:
    h = Harness(mode=TurnMode.SERVER_VAD)
    _two_calls(h)
    h.server({"type": "response.done", "response": {"id": "r1", "status": "completed"}})
    h.server({"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "u2"})
    assert [e.call_ids for e in h.of(FunctionCallsAbandoned)] == [("c1", "c2")]
    h.session.function_result("c1", "{}")
    h.session.function_result("c2", "{}")
    assert h.types(h.drain()) == ["conversation.item.create", "conversation.item.create"]


def test_usage_accumulates_with_cost() -> None:
    h = Harness()
    for n in (1, 2):
        h.start_response(f"r{n}", f"a{n}")
        h.finish_response(f"r{n}", f"a{n}")
    [first, second] = h.of(UsageChanged)
    assert second.totals.responses == 2 and second.totals.usage.output_audio == 400
    per_response = (60 * 4 + 40 * 0.4 + 50 * 32 + 20 * 24 + 200 * 64) / 1e6  # gpt-realtime-2.1: text out $24
    assert first.cost_usd == per_response and abs(second.cost_usd - 2 * per_response) < 1e-12


def test_transcripts_follow_conversation_order() -> None:
    h = Harness()
    h.server(
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": {"id": "u1", "type": "message", "role": "user", "content": []},
        }
    )
    h.start_response("r1", "a1")
    h.server({"type": "conversation.item.input_audio_transcription.delta", "item_id": "u1", "delta": "Hi "})
    h.server(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "transcript": "Hi there",
        }
    )
    h.server(
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "u0",
            "error": {"message": "nope"},
        }
    )
    entries = h.session.conversation.entries()
    assert [(e.item_id, e.role, e.text) for e in entries[:2]] == [
        ("u1", "user", "Hi there"),
        ("a1", "assistant", "one two three four"),
    ]
    assert entries[2].failed
