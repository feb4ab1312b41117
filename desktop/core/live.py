"""GPT-Live (`/v1/live/sessions`) as a session state machine, sans I/O, behind the same interface as the Realtime
`Session`: the driver feeds it user actions and server messages and takes client events and effects out, so the
audio engine, window, tools and history serve both protocols without knowing which is in use.

How Live differs, and what Parley does about it (../shared/gpt-live.md has the protocol):
- `session.start` is the first message and nothing else is sent until `session.started`; the model, voice,
  format and instructions are fixed from then on. After a reconnect the text history goes in `input`.
- The model takes turns itself, so audio flows all the time: `tick()` pads the input with silence whenever the
  microphone sent nothing (push-to-talk between holds, a resting microphone), keeping the input timeline real.
- Push-to-talk is `session.input_audio.mute` while the key is up and `unmute` while it is held.
- Output audio has no item ids and no done event. Parley names each stretch of speech itself (`live-1`,
  `live-2`, ...): a new one starts after a Stop, or when audio resumes after a pause; a stretch ends when no audio
  arrived for `utterance_gap_s`. The player's per-item clock then works as for Realtime.
- There is no truncate and no cancel. Stop silences the player at once, drops the rest of that stretch, and
  appends an instruction telling the model to stop and wait, with the words the user actually heard, so the
  model's idea of the conversation matches the user's (the heard part is estimated from played samples, as the
  transcript's strike-through does for Realtime).
- Tools reach the model through Responses delegation: `response.event` envelopes carry the backend's
  `response.output_item.done` function calls; each answer is a `response.item.create`, then one
  `response.create` once every call of that response is answered.
- Billing is per second: `session.usage.updated` carries cumulative seconds.

Why one module of this size: it mirrors desktop/core/session.py for the other protocol; the driver treats the
two as one interface, and this keeps the whole of Live's turn logic in one readable place.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from desktop.core.config import SAMPLE_RATE, SessionConfig
from desktop.core.conversation import Conversation, TranscriptEntry
from desktop.core.effects import (
    AudioFinished,
    Effect,
    FunctionCallRequested,
    Notice,
    PlayAudio,
    StopPlayback,
    UsageChanged,
)
from desktop.core.errors import RealtimeError, ServerError, ServerErrorInfo
from desktop.core.models import DurationPrices, Pricing, find, list_prices
from desktop.core.outbox import Outbox
from desktop.core.replay import within_budget
from desktop.core.session import PlayedSamples, StopPlaybackNow
from desktop.core.state import TurnState
from desktop.core.usage import UsageTotals

log = logging.getLogger(__name__)

DELEGATE_MODEL = "gpt-5.4-mini"  # the Responses model that runs Parley's tools for the Live model
PAD_CHUNK_S = 0.1  # silence appended per step when the microphone sent nothing
PTT_NOTICE = ("GPT-Live hears you only while you hold the talk key (silence in between) and decides itself when "
              "to answer; hands-free is its natural mode.")
STOP_INSTRUCTION = ("The user pressed Stop. Stop speaking now and wait for the user. Of your last reply they "
                    "heard only: \"{heard}\"")


@dataclass
class _Call:
    call_id: str
    answered: bool = False


@dataclass
class _Delegation:
    """One Responses-delegated turn: its function calls, answered before `response.create` continues it."""

    id: str
    calls: dict[str, _Call] = field(default_factory=dict)
    continued: bool = False


class LiveSession(Outbox):
    def __init__(
        self,
        config: SessionConfig,
        *,
        played_samples: PlayedSamples | None = None,
        stop_playback: StopPlaybackNow | None = None,
        clock: Callable[[], float] = time.monotonic,
        utterance_gap_s: float = 0.6,
        update_timeout_s: float = 5.0,  # accepted for the driver's sake: Live has no general session.update
        pricing: Pricing = list_prices,  # token prices: Live bills by the second instead (see _usage)
    ) -> None:
        self._config = config
        self._played_samples = played_samples
        self._stop_playback = stop_playback
        self._clock = clock
        self._gap_s = utterance_gap_s
        self._outgoing: list[dict[str, Any]] = []
        self._effects: list[Effect] = []
        self._state = TurnState.CONNECTING
        self._ids = itertools.count(1)
        self._utterances = itertools.count(1)
        self.conversation = Conversation()
        self.usage = UsageTotals()
        self.seconds = 0.0  # of the current server session
        self._banked_seconds = 0.0  # of the earlier ones (a reconnect starts a new session at zero)
        self._told_ptt = False
        self._ever_connected = False
        self._reset_server_state()

    def _reset_server_state(self) -> None:
        self._banked_seconds += self.seconds  # a new server session counts from zero
        self.seconds = 0.0
        self._connected = False
        self._started = False
        self.finalised = False  # the server's session.closed came: only that proves the session was finalised
        self._muted: bool | None = None  # what the server was last told
        self._pressed = False
        self._sent_samples = 0
        self._timeline_start = 0.0
        self._speaking: str | None = None  # the stretch of output audio now arriving
        self._received: dict[str, int] = {}  # utterance id -> samples received
        self._last_audio_at = 0.0
        self._dropping_until = 0.0  # after a Stop, output audio is dropped until a gap (the stopped speech's tail)
        self._user_item: str | None = None
        self._assistant_item: str | None = None
        self._delegations: dict[str, _Delegation] = {}
        self._started_with_tools = False

    # ------------------------------------------------------------------------------------------ outputs

    def _send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", f"parley_{next(self._ids)}")
        self._outgoing.append(event)

    # ------------------------------------------------------------------------------------------ connection

    def connection_opened(self, *, quiet: bool = False) -> None:
        """A socket is up: start the session, with the text history so far in `input` (after a reconnect, or
        when an earlier conversation is continued). `quiet`: a session replaced between turns."""
        self._reset_server_state()
        self._connected = self._ever_connected = True
        if not quiet:
            self._set_state(TurnState.CONNECTING)
        session: dict[str, Any] = {
            "model": self._config.model,
            "instructions": self._instructions(),
            "audio": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                      "output": {"voice": self._config.voice}},
        }
        delegation = self._delegation()
        if delegation is not None:
            session["delegation"] = delegation
        history = self._history()
        if history:
            session["input"] = history
        self._send({"type": "session.start", "session": session})

    def _instructions(self) -> str:
        text = self._config.instructions
        if not self._config.hands_free:
            text += (" The user talks to you with push-to-talk: you hear them only while they hold a key, and "
                     "silence in between. Answer when they let go.")
        return text

    def _delegation(self) -> dict[str, Any] | None:
        if not self._config.tools:
            return None
        tools = [{"type": "function", "name": t["name"], "description": t.get("description", ""),
                  "parameters": dict(t.get("parameters", {}))} for t in self._config.tools]
        return {"type": "responses", "responses": {"model": DELEGATE_MODEL, "tools": tools}}

    def _history(self) -> list[dict[str, Any]]:
        """The `input` of session.start: the newest text within the replay budget, in conversation order."""
        items: list[dict[str, Any]] = []
        for entry in within_budget(self.conversation.entries()):
            text = entry.heard_text.strip()
            if entry.role == "user":
                items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
            else:
                items.append({"type": "message", "role": "assistant",
                              "content": [{"type": "output_text", "text": text}]})
        return items

    def seed(self, entries: Sequence[TranscriptEntry]) -> None:
        """Continues an earlier conversation. Live takes earlier text only at the start (`input`), so the entries
        join this conversation and go to the server with the next session.start."""
        for entry in entries:
            self.conversation.add(entry.item_id, entry.role)
            self.conversation.replace(entry)

    def between_turns(self) -> bool:
        """Connected and quiet: a good moment to replace the session."""
        return (self._started and self._state is TurnState.IDLE and not self._pressed and self._speaking is None
                and not any(not c.answered for d in self._delegations.values() for c in d.calls.values()))

    def connection_lost(self, error: RealtimeError | None, *, reconnecting: bool) -> None:
        if self._speaking is not None:
            self._effects.append(StopPlayback(self._speaking))
        self._connected = self._started = False
        if error is not None:
            self._error(error)
        self._set_state(TurnState.RECONNECTING if reconnecting else TurnState.ERROR)

    def connection_failed(self, error: RealtimeError) -> None:
        self._connected = self._started = False
        self._error(error)
        self._set_state(TurnState.ERROR)

    def close_event(self) -> dict[str, Any]:
        """What to send before closing the socket: the session is finalised (and billed) only by session.close."""
        return {"type": "session.close", "event_id": f"parley_{next(self._ids)}"}

    def set_config(self, config: SessionConfig) -> None:
        """Live fixes model, voice and instructions at start; the turn mode and the tools can change live."""
        old, self._config = self._config, config
        if not self._started:
            return
        if config.hands_free != old.hands_free:
            self._apply_mute()
        if config.tools != old.tools:
            delegation = self._delegation()
            if delegation is not None and self._started_with_tools:
                self._send({"type": "session.update", "session": {"delegation": delegation}})
            elif delegation is not None or self._started_with_tools:
                log.info("tools changed in a way Live cannot update live (delegation type is fixed): "
                         "they apply from the next session")

    # ------------------------------------------------------------------------------------------ the clock

    def tick(self) -> None:
        """Pads the input timeline with silence, and ends a stretch of output audio after a pause."""
        now = self._clock()
        if self._started:
            behind = int((now - self._timeline_start) * SAMPLE_RATE) - self._sent_samples
            pad = int(PAD_CHUNK_S * SAMPLE_RATE)
            while behind >= pad:
                self._append(bytes(pad * 2))
                behind -= pad
        if self._speaking is not None and now - self._last_audio_at >= self._gap_s:
            self._effects.append(AudioFinished(self._speaking))
            self._speaking = None
            self._finish_assistant_text()

    def playback_finished(self, item_id: str) -> None:
        if self._speaking is None and self._state is TurnState.SPEAKING:
            self._set_state(TurnState.IDLE)

    # ------------------------------------------------------------------------------------------ user actions

    def audio(self, pcm: bytes, *, preroll: bool = False) -> None:
        if self._started and not preroll:  # Live hears everything as it happens: nothing to re-send
            self._append(pcm)

    def _append(self, pcm: bytes) -> None:
        self._sent_samples += len(pcm) // 2
        self._send({"type": "session.input_audio.append", "audio": base64.b64encode(pcm).decode("ascii")})

    def press(self) -> bool:
        """The talk key: interrupt what plays, and in push-to-talk let the model hear the user."""
        self.interrupt()
        self._pressed = True
        if not self._config.hands_free and self._started:
            self._apply_mute()
            self._set_state(TurnState.LISTENING)
        return True

    def release(self) -> bool:
        was = self._pressed
        self._pressed = False
        if self._started and not self._config.hands_free:
            self._apply_mute()
            if self._state is TurnState.LISTENING:
                self._set_state(TurnState.THINKING)
        return was

    def _apply_mute(self) -> None:
        muted = not self._config.hands_free and not self._pressed
        if muted != self._muted:
            self._muted = muted
            self._send({"type": "session.input_audio.mute" if muted else "session.input_audio.unmute"})

    def send_text(self, text: str) -> None:
        """Live has no text turn: the words go in as an instruction the model answers aloud."""
        self.interrupt()
        item = f"live-user-{next(self._utterances)}"
        self.conversation.add(item, "user")
        self._transcript(TranscriptEntry(item, "user", text, done=True))
        if self._started:
            self._send({"type": "session.instructions.append", "delegation_id": None,
                        "content": f"The user typed: {text}"})
            self._set_state(TurnState.THINKING)

    def stop(self) -> None:
        self.interrupt()

    def interrupt(self, played_samples: int | None = None, *, server_cancelled: bool = False) -> bool:
        """Silence the player now, drop the rest of this speech, and tell the model what was heard."""
        item = self._speaking or (self._assistant_item if self._state is TurnState.SPEAKING else None)
        if item is None:
            return False
        received = self._received.get(item, 0)
        if self._stop_playback is not None:
            heard = self._stop_playback(item)
        elif played_samples is not None:
            heard = played_samples
        else:
            heard = self._played_samples(item) if self._played_samples else received
        self._effects.append(StopPlayback(item))
        self._speaking = None
        self._dropping_until = self._clock() + self._gap_s
        entry = self.conversation.get(self._assistant_item or item)
        heard_text = ""
        if entry is not None:
            fraction = min(heard / received, 1.0) if received else 0.0
            cut = replace(entry, done=True, interrupted=True, heard_fraction=fraction)
            self._transcript(cut)
            heard_text = cut.heard_text.strip()
        self._assistant_item = None
        if self._started:
            self._send({"type": "session.instructions.append", "delegation_id": None,
                        "content": STOP_INSTRUCTION.format(heard=heard_text)})
        self._set_state(TurnState.LISTENING if self._pressed else TurnState.IDLE)
        return True

    def function_result(self, call_id: str, output: str) -> None:
        for delegation in self._delegations.values():
            call = delegation.calls.get(call_id)
            if call is None or call.answered:
                continue
            call.answered = True
            if not self._started:
                return
            self._send({"type": "response.item.create",
                        "item": {"type": "function_call_output", "call_id": call_id, "output": output}})
            if all(c.answered for c in delegation.calls.values()) and not delegation.continued:
                delegation.continued = True
                self._send({"type": "response.create"})
            return

    # ------------------------------------------------------------------------------------------ server events

    def receive(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            self._error(RealtimeError("the server sent a message that is not JSON; it was ignored"))
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._error(RealtimeError("the server sent a message without a type; it was ignored"))
            return
        try:
            self.handle(event)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed %s event: %s", event.get("type"), exc)
            self._error(RealtimeError(f"the server sent a malformed {event['type']} event; it was ignored"))

    def handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.started":
            self._started = True
            self._started_with_tools = bool(self._config.tools)
            self._timeline_start = self._clock()
            self._apply_mute()
            self._set_state(TurnState.IDLE)
            if not self._config.hands_free and not self._told_ptt:
                self._told_ptt = True
                self._effects.append(Notice(PTT_NOTICE))
        elif kind == "session.output_audio.delta":
            self._output_audio(base64.b64decode(event["delta"]))
        elif kind == "session.output_transcript.delta":
            self._output_text(str(event["delta"]))
        elif kind == "session.input_transcript.delta":
            self._input_text(str(event["delta"]))
        elif kind == "session.usage.updated":
            self._usage(float(event["usage"]["seconds"]))
        elif kind == "response.event":
            self._response_event(event["event"])
        elif kind == "error":
            err = event["error"]
            self._error(ServerError(ServerErrorInfo(
                code=err.get("code"), message=str(err.get("message", "")), param=err.get("param"),
                event_id=err.get("client_event_id"), error_type=err.get("type"))))
        elif kind == "info":
            log.info("live info %s: %s", event.get("code"), event.get("message"))
        elif kind == "session.closed":
            log.info("live session closed: %s", event.get("reason"))
            self.finalised = True
            if "usage" in event:
                self._usage(float(event["usage"]["seconds"]))
        else:  # acknowledgements (…appended, muted, unmuted, session.updated) and newer events
            log.debug("live event %s", kind)

    def _usage(self, seconds: float) -> None:
        """Cumulative seconds of this session (snapshots: never summed), priced per second when the model's
        price is known; earlier sessions of the conversation (before a reconnect) count too."""
        self.seconds = seconds
        total = self._banked_seconds + seconds
        model = find(self._config.model)
        prices = model.prices if model is not None else None
        if isinstance(prices, DurationPrices):
            cost: float | None = total / 60 * prices.active_per_minute
            meter = f"${cost:.3f}"
            detail = (f"GPT-Live bills by the second: {total:.0f} s of session at ${prices.active_per_minute:g} "
                      "per minute (list price).")
        else:
            cost, meter = None, f"{total:.0f} s"
            detail = "This model's price is not known, so Parley counts seconds of session instead of dollars."
        self._effects.append(UsageChanged(self.usage, cost, meter, detail))

    def _output_audio(self, pcm: bytes) -> None:
        now = self._clock()
        if now < self._dropping_until:  # the tail of speech the user stopped
            self._dropping_until = now + self._gap_s
            return
        if self._speaking is None:
            if self._assistant_item is not None and self._assistant_item not in self._received:
                self._speaking = self._assistant_item  # its words came first
            else:
                self._finish_assistant_text()
                self._speaking = self._assistant_item = f"live-{next(self._utterances)}"
                self.conversation.add(self._speaking, "assistant")
            self._finish_user_text()
        self._last_audio_at = now
        self._received[self._speaking] = self._received.get(self._speaking, 0) + len(pcm) // 2
        self._effects.append(PlayAudio(self._speaking, 0, pcm))
        self._set_state(TurnState.SPEAKING)

    def _output_text(self, delta: str) -> None:
        if self._clock() < self._dropping_until:
            return
        if self._assistant_item is None:
            self._assistant_item = self._speaking or f"live-{next(self._utterances)}"
            self.conversation.add(self._assistant_item, "assistant")
        entry = self.conversation.get(self._assistant_item)
        assert entry is not None
        self._transcript(replace(entry, text=entry.text + delta))

    def _input_text(self, delta: str) -> None:
        self._dropping_until = 0.0  # the user spoke: whatever the model says next is a new answer
        if self._user_item is None:
            self._finish_assistant_text()
            self._user_item = f"live-user-{next(self._utterances)}"
            self.conversation.add(self._user_item, "user")
        entry = self.conversation.get(self._user_item)
        assert entry is not None
        self._transcript(replace(entry, text=entry.text + delta))

    def _finish_user_text(self) -> None:
        if self._user_item is not None:
            entry = self.conversation.get(self._user_item)
            if entry is not None and not entry.done:
                self._transcript(replace(entry, done=True))
            self._user_item = None

    def _finish_assistant_text(self) -> None:
        """The answer's words are complete once its audio has stopped arriving (Live sends no done event)."""
        if self._assistant_item is None or self._assistant_item == self._speaking:
            return
        entry = self.conversation.get(self._assistant_item)
        if entry is not None and not entry.done:
            self._transcript(replace(entry, done=True))
        self._assistant_item = None

    def _response_event(self, inner: dict[str, Any]) -> None:
        """Responses delegation: the backend's own events, of which Parley needs the finished function calls."""
        if inner.get("type") != "response.output_item.done":
            return
        item = inner["item"]
        if item.get("type") != "function_call":
            return
        response_id = str(inner.get("response_id") or item.get("id") or "delegation")
        delegation = self._delegations.setdefault(response_id, _Delegation(response_id))
        call_id = str(item["call_id"])
        if call_id in delegation.calls:
            return
        delegation.calls[call_id] = _Call(call_id)
        self._effects.append(FunctionCallRequested(call_id, str(item["name"]), str(item.get("arguments") or "{}")))
