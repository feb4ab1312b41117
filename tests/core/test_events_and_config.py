"""Event builders, the lenient parser, configuration payloads, URL rules and prices."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from desktop.core import events as ev
from desktop.core.config import AuthStyle, ConnectionConfig, SessionConfig, TurnMode, check_url_security
from desktop.core.errors import InsecureUrlError
from desktop.core.usage import UsageTotals, cost_usd, prices_for
from tests.support.event_validation import client_event_problems, server_event_problems

TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "Current time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
}


def test_misspelled_field_is_caught_at_any_depth() -> None:
    event = ev.session_update(SessionConfig())
    event["session"]["audio"]["input"]["turn_detecton"] = None
    event["session"]["temperature"] = 0.7
    problems = client_event_problems(event)
    assert any("session.audio.input.turn_detecton" in p for p in problems)
    assert any("session.temperature" in p for p in problems)
    assert all(p.startswith("session.update:") for p in problems)
    assert client_event_problems(
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": 5,
            "audio_end": 5,
        }
    ) == ["conversation.item.truncate: undeclared field audio_end"]
    assert server_event_problems({"type": "no.such.event"})


@pytest.mark.parametrize("mode", list(TurnMode))
def test_every_builder_makes_a_valid_event_with_a_unique_id(mode: TurnMode) -> None:
    built = [
        ev.session_update(SessionConfig(turn_mode=mode, tools=(TOOL,))),
        ev.audio_append(b"\x01\x00" * 10),
        ev.audio_commit(),
        ev.audio_clear(),
        ev.user_text("hi"),
        ev.assistant_text("hello"),
        ev.function_call_output("call_1", '{"ok": true}'),
        ev.truncate("item_1", 0, 1500),
        ev.response_create(),
        ev.response_cancel(),
        ev.response_cancel("resp_1"),
    ]
    for event in built:
        assert client_event_problems(event) == [], event
    assert len({event["event_id"] for event in built}) == len(built)


def test_push_to_talk_sends_an_explicit_null_turn_detection() -> None:
    text = json.dumps(ev.session_update(SessionConfig(turn_mode=TurnMode.PUSH_TO_TALK)))
    assert '"turn_detection": null' in text
    session = json.loads(text)["session"]
    assert session["type"] == "realtime"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}


def test_hands_free_turn_detection_is_fully_specified() -> None:
    vad = SessionConfig(turn_mode=TurnMode.SERVER_VAD, silence_duration_ms=700).turn_detection()
    assert vad == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
        "create_response": True,
        "interrupt_response": True,
    }
    semantic = SessionConfig(turn_mode=TurnMode.SEMANTIC_VAD, eagerness="low").turn_detection()
    assert semantic == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }


def test_urls_headers_and_loopback_rule() -> None:
    openai = ConnectionConfig(api_key="test-key-not-a-secret")
    assert openai.resolved_url() == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert openai.headers() == {"Authorization": "Bearer test-key-not-a-secret"}
    assert "test-key" not in repr(openai)
    azure = ConnectionConfig(
        api_key="k",
        auth_style=AuthStyle.API_KEY,
        url="wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy",
    )
    assert azure.resolved_url().endswith("?model=my-deploy")
    assert azure.headers() == {"api-key": "k"}
    assert ConnectionConfig(api_key="k", auth_style=AuthStyle.NONE).headers() == {}
    for header_set in (openai.headers(), azure.headers()):
        assert not any(name.lower() == "openai-beta" for name in header_set)
    for ok in ("ws://127.0.0.1:8000/v1/realtime", "ws://localhost/v1/realtime", "ws://[::1]:9/x"):
        check_url_security(ok)
    for bad in ("ws://example.com/v1/realtime", "ws://192.168.1.5/v1/realtime", "http://localhost/x"):
        with pytest.raises(InsecureUrlError):
            check_url_security(bad)


def test_parser_accepts_ga_and_beta_names_and_extra_fields() -> None:
    parser = ev.EventParser()
    pcm = b"\x10\x00" * 4
    for name in ("response.output_audio.delta", "response.audio.delta"):
        event = parser.parse(
            json.dumps(
                {
                    "type": name,
                    "event_id": "e",
                    "response_id": "r",
                    "item_id": "i",
                    "output_index": 0,
                    "content_index": 0,
                    "obfuscation": "xyz",
                    "delta": base64.b64encode(pcm).decode(),
                }
            )
        )
        assert event == ev.AudioDelta("r", "i", 0, pcm)
    created = parser.parse(
        json.dumps(
            {
                "type": "conversation.item.created",
                "previous_item_id": None,
                "item": {"id": "i", "type": "message", "role": "user", "content": []},
            }
        )
    )
    assert isinstance(created, ev.ItemAdded) and created.item.role == "user"
    text = parser.parse(
        json.dumps({"type": "response.text.delta", "response_id": "r", "item_id": "i", "delta": "hi"})
    )
    assert text == ev.TranscriptDelta("r", "i", "hi")


def test_parser_skips_malformed_and_logs_unknown_types_once(caplog: pytest.LogCaptureFixture) -> None:
    parser = ev.EventParser()
    with caplog.at_level(logging.INFO, logger="desktop.core.events"):
        assert parser.parse("{not json") is None
        assert parser.parse("[1, 2]") is None
        assert parser.parse(json.dumps({"type": "response.output_audio.delta", "delta": "%%%"})) is None
        assert parser.parse(json.dumps({"type": "brand.new.event"})) is None
        assert parser.parse(json.dumps({"type": "brand.new.event"})) is None
    assert sum("brand.new.event" in record.getMessage() for record in caplog.records) == 1
    assert sum("malformed" in record.getMessage() for record in caplog.records) == 2


def test_error_event_is_typed() -> None:
    event = ev.EventParser().parse(
        json.dumps(
            {
                "type": "error",
                "event_id": "x",
                "error": {
                    "type": "invalid_request_error",
                    "code": "unknown_parameter",
                    "message": "Unknown parameter",
                    "param": "session.temperature",
                    "event_id": "evt_1",
                },
            }
        )
    )
    assert isinstance(event, ev.ErrorEvent)
    assert (event.info.code, event.info.param, event.info.event_id) == (
        "unknown_parameter",
        "session.temperature",
        "evt_1",
    )


def test_cost_from_one_price_table() -> None:
    usage = ev.Usage(
        input_text=1_000_000,
        input_audio=1_000_000,
        cached_text=500_000,
        cached_audio=250_000,
        output_text=1_000_000,
        output_audio=1_000_000,
    )
    expected = 0.5 * 4 + 0.5 * 0.40 + 0.75 * 32 + 0.25 * 0.40 + 16 + 64
    prices = prices_for("gpt-realtime")
    assert prices is not None
    assert cost_usd(usage, prices) == pytest.approx(expected)
    assert prices_for("gpt-realtime-2025-08-28") == prices
    totals = UsageTotals().add(usage).add(usage)
    assert totals.responses == 2 and totals.usage.output_audio == 2_000_000
    assert totals.cost_usd(prices) == pytest.approx(2 * expected)
