"""What the session does while the link is down: typed turns wait and go out on the next session, speech is
refused with a notice, and a recycled session is seeded without the window noticing."""

from __future__ import annotations

from desktop.core.config import TurnMode
from desktop.core.effects import Notice, StateChanged
from desktop.core.errors import ConnectionClosedError
from desktop.core.state import TurnState
from tests.core.test_session import Harness


def notices(h: Harness) -> list[str]:
    return [e.text for e in h.effects if isinstance(e, Notice)]


def test_typed_while_offline_is_queued_then_sent_after_the_replay() -> None:
    h = Harness()
    h.server({"type": "conversation.item.added", "previous_item_id": None,
              "item": {"id": "u1", "type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Earlier words."}]}})
    h.session.connection_lost(ConnectionClosedError(1011, "x"), reconnecting=True)
    h.drain()
    h.session.send_text("First while offline.")
    h.session.send_text("Second while offline.")
    assert h.drain() == []  # nothing goes out on a dead link
    assert notices(h)[-1] == "Not connected: 2 messages will be sent when the link is back."
    assert h.session.queued_texts == ["First while offline.", "Second while offline."]
    h.session.connection_opened()
    out = h.drain()
    assert [e["type"] for e in out] == ["session.update"] + ["conversation.item.create"] * 3 + ["response.create"]
    assert out[1]["item"]["id"] == "u1"  # replayed under its own id
    assert [e["item"]["content"][0]["text"] for e in out[1:4]] == [
        "Earlier words.", "First while offline.", "Second while offline."]
    assert "id" not in out[2]["item"]  # new items get server ids
    assert notices(h)[-1] == "Connected: sent 2 messages typed while offline."
    assert h.session.queued_texts == [] and h.session.state is TurnState.THINKING


def test_talking_while_offline_says_it_is_not_sent() -> None:
    h = Harness()
    h.session.connection_lost(None, reconnecting=True)
    assert h.session.press() is False
    h.drain()
    assert h.drain() == [] and "what you say now is not sent" in notices(h)[-1]


def test_hands_free_drop_says_speech_is_not_heard_meanwhile() -> None:
    h = Harness(TurnMode.SERVER_VAD)
    h.session.connection_lost(ConnectionClosedError(None, "x"), reconnecting=True)
    h.drain()
    assert "not heard" in notices(h)[-1]


def test_quiet_reopen_keeps_the_state_and_replays() -> None:
    h = Harness()
    h.server({"type": "conversation.item.added", "previous_item_id": None,
              "item": {"id": "u1", "type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Hi."}]}})
    assert h.session.between_turns()
    before = len([e for e in h.effects if isinstance(e, StateChanged)])
    h.session.connection_opened(quiet=True)
    out = h.drain()
    assert [e["type"] for e in out] == ["session.update", "conversation.item.create"]
    assert len([e for e in h.effects if isinstance(e, StateChanged)]) == before  # no "Connecting…" flicker
    h.server({"type": "conversation.item.added", "previous_item_id": None,
              "item": {"id": "u1", "type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Hi."}]}})
    assert [e.text for e in h.session.conversation.entries()] == ["Hi."]  # the echo adds no duplicate


def test_not_between_turns_while_pressed_or_answering() -> None:
    h = Harness()
    h.session.press()
    assert not h.session.between_turns()
    h.session.stop()
    assert h.session.between_turns()
    h.start_response()
    assert not h.session.between_turns()


def test_text_sent_into_a_dying_link_is_sent_again() -> None:
    h = Harness()
    h.session.send_text("Confirmed one.")
    h.server({"type": "conversation.item.added", "previous_item_id": None,
              "item": {"id": "u1", "type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Confirmed one."}]}})
    h.session.send_text("Lost in flight.")
    h.session.connection_lost(ConnectionClosedError(None, "x"), reconnecting=True)
    h.drain()
    assert h.session.queued_texts == ["Lost in flight."]  # the confirmed one is not sent twice
    assert "will be sent again" in notices(h)[-1]
    h.session.connection_opened()
    texts = [e["item"]["content"][0]["text"] for e in h.drain() if e["type"] == "conversation.item.create"]
    assert texts == ["Confirmed one.", "Lost in flight."]  # the replay, then the re-sent one


def test_a_drop_mid_answer_keeps_only_what_was_heard() -> None:
    played = {"a1": 0}
    h = Harness(played=played)
    h.start_response("r1", "a1", samples=48_000)  # 2 s received
    h.server({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1",
              "output_index": 0, "content_index": 0, "delta": " and then some more words that were never heard"})
    played["a1"] = 12_000  # a quarter played when the link died
    h.session.connection_lost(ConnectionClosedError(None, "x"), reconnecting=True)
    h.drain()
    entry = h.session.conversation.get("a1")
    assert entry is not None and entry.interrupted and entry.heard_fraction == 0.25
    assert 0 < len(entry.heard_text) < len(entry.text)
    h.session.connection_opened()
    replay = [e["item"]["content"][0]["text"] for e in h.drain() if e["type"] == "conversation.item.create"]
    assert replay == [entry.heard_text.strip()]  # the unheard rest is not told to the next session
