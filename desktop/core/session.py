"""The conversation state machine, sans I/O: user actions and server events in; client events and effects out.

Nothing here awaits or touches a socket, so every turn-taking rule is testable synchronously. After any call,
the driver takes `take_outgoing()` (client events to send, in order) and `take_effects()` (for the app layer).

Played audio: the session asks `played_samples(item_id)` — a callable the app passes in, backed by the
player's per-item counter of samples that really went out — whenever it must decide on its own (press while
the answer plays, server speech_started, end of playback). `interrupt(played_samples)` takes the count
explicitly for callers that have a fresher figure. Without a callable, all received audio counts as played
(the truncation is then late, but never past the item's audio, which the server would reject).

Why one module of this size: every turn-taking rule reads and writes the same state (open turn, active
response, audio items, pending calls, queued texts); split across files, the rules would have to share it
through a wider interface than the one the driver uses.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from desktop.core import events as ev
from desktop.core.config import SAMPLE_RATE, SessionConfig
from desktop.core.conversation import Conversation, TranscriptEntry
from desktop.core.effects import (
    AudioFinished,
    Effect,
    FunctionCallRequested,
    FunctionCallsAbandoned,
    Notice,
    PlayAudio,
    RateLimitsChanged,
    SessionConfigured,
    StopPlayback,
    TranscriptChanged,
    UsageChanged,
)
from desktop.core.errors import RealtimeError, ServerError, ServerErrorInfo, SessionUpdateError
from desktop.core.models import Pricing, list_prices
from desktop.core.outbox import Outbox
from desktop.core.replay import replay_events
from desktop.core.state import TurnState
from desktop.core.usage import UsageTotals, meter_text

log = logging.getLogger(__name__)

PlayedSamples = Callable[[str], int]
StopPlaybackNow = Callable[[str], int]  # silences the player, returns the item's final heard samples

MIN_TURN_MS = 150  # shorter presses are clicks, not speech; the server rejects commits under 100 ms anyway


@dataclass
class _AudioItem:
    item_id: str
    response_id: str
    content_index: int
    received: int = 0  # samples
    audio_done: bool = False
    interrupted: bool = False
    playback_finished: bool = False


@dataclass
class _Response:
    id: str
    done: bool = False
    status: str | None = None
    calls: dict[str, str] = field(default_factory=dict)  # call_id -> name
    answered: set[str] = field(default_factory=set)
    continued: bool = False  # the follow-up response.create was sent (or is no longer wanted)


class Session(Outbox):
    def __init__(
        self,
        config: SessionConfig,
        *,
        played_samples: PlayedSamples | None = None,
        stop_playback: StopPlaybackNow | None = None,
        clock: Callable[[], float] = time.monotonic,
        update_timeout_s: float = 5.0,
        pricing: Pricing = list_prices,
    ) -> None:
        self._config = config
        self._pricing = pricing
        self._played_samples = played_samples
        self._stop_playback = stop_playback
        self._clock = clock
        self._update_timeout_s = update_timeout_s
        self._parser = ev.EventParser()
        self._outgoing: list[dict[str, Any]] = []
        self._effects: list[Effect] = []
        self._state = TurnState.CONNECTING
        self._connected = False
        self._ever_connected = False
        self.conversation = Conversation()
        self.usage = UsageTotals()
        self.rate_limits: tuple[ev.RateLimit, ...] = ()
        self.effective_session: dict[str, Any] = {}
        self._sent_types: OrderedDict[str, str] = OrderedDict()  # event_id -> type, to name an error's cause
        self._pending_update: tuple[str, float] | None = None  # (event_id, deadline)
        self.queued_texts: list[str] = []  # typed while offline, sent on the next connection
        self._unconfirmed: list[str] = []  # typed texts sent but not yet echoed by the server as an item
        self._reset_server_state()

    def _reset_server_state(self) -> None:
        """What lived on the server side; a new connection is a new server session."""
        self._pressed = False
        self._turn_samples = 0
        self._responses: dict[str, _Response] = {}
        self._active_response: str | None = None
        self._audio: dict[str, _AudioItem] = {}
        self._current_audio: str | None = None
        self._dropped_responses: deque[str] = deque(maxlen=32)
        self._cancel_ids: set[str] = set()
        self._awaiting_created = 0  # response.create sent, response.created not seen yet
        self._drop_created = 0  # ... of which the user has already interrupted this many
        self._cancel_created = 0  # ... of which this many still need a response.cancel once created
        self._pending_update = None

    # --------------------------------------------------------------------------------------------- outputs

    def _send(self, event: dict[str, Any]) -> str:
        event_id: str = event["event_id"]
        if event["type"] == "response.create":
            self._awaiting_created += 1
        self._sent_types[event_id] = event["type"]
        while len(self._sent_types) > 512:
            self._sent_types.popitem(last=False)
        self._outgoing.append(event)
        return event_id

    # ------------------------------------------------------------------------------------------ connection

    def connection_opened(self, *, quiet: bool = False) -> None:
        """A socket is up (first time or after a reconnect): configure it and replay the text history, then send
        what was typed while offline. `quiet`: a session recycled between turns, the window shows no change."""
        self._reset_server_state()
        self._connected = self._ever_connected = True
        if not quiet:
            self._set_state(TurnState.CONNECTING)
        self._send_config()
        for event in replay_events(self.conversation.entries()):  # empty on a first connection unless seeded
            self._send(event)
        if self.queued_texts:
            queued, self.queued_texts = self.queued_texts, []
            for text in queued:
                self._send(ev.user_text(text))
                self._unconfirmed.append(text)
            self._send(ev.response_create())
            self._set_state(TurnState.THINKING)
            self._effects.append(Notice(f"Connected: sent {_messages(len(queued))} typed while offline."))

    def seed(self, entries: Sequence[TranscriptEntry]) -> None:
        """Continues an earlier conversation: its text joins this one and goes to the server (now if connected,
        else on connecting), within the replay budget."""
        for entry in entries:
            self.conversation.add(entry.item_id, entry.role)
            self.conversation.replace(entry)
        if self._connected:
            for event in replay_events(entries):
                self._send(event)

    def connection_lost(self, error: RealtimeError | None, *, reconnecting: bool) -> None:
        was_connected, self._connected = self._connected, False
        self._pressed = False
        self._cut_off_playing_answer()
        if error is not None:
            self._error(error)
        if self._unconfirmed:  # sent into a link that died before the server confirmed it: send it again
            self.queued_texts[:0], self._unconfirmed = self._unconfirmed, []
            self._effects.append(Notice(f"The link dropped before {_messages(len(self.queued_texts))} reached "
                                        "the server: it will be sent again when the link is back."))
        if was_connected and self._config.hands_free:
            self._effects.append(Notice("The connection is down: what you say until it is back is not heard."))
        self._set_state(TurnState.RECONNECTING if reconnecting else TurnState.ERROR)

    def _cut_off_playing_answer(self) -> None:
        """The link died mid-answer: playback stops, and the transcript (and so the replay into the next
        session) keeps only what was heard, as after a barge-in."""
        item = self._audio.get(self._current_audio or "")
        if item is None:
            return
        if not self._still_playing(item):
            self._effects.append(StopPlayback(item.item_id))
            return
        played = self._stop_playback(item.item_id) if self._stop_playback is not None else self._played(item)
        item.interrupted = True
        self._effects.append(StopPlayback(item.item_id))
        entry = self.conversation.get(item.item_id)
        if entry is not None and item.received:
            fraction = min(max(played, 0), item.received) / item.received
            self._transcript(replace(entry, interrupted=True, heard_fraction=fraction))

    def between_turns(self) -> bool:
        """Connected and quiet: nobody talking, no answer coming or playing, no tool call waiting."""
        return (
            self._connected
            and self._state is TurnState.IDLE
            and not self._pressed
            and not self._busy()
            and not any(r.calls and not r.continued for r in self._responses.values())
        )

    def connection_failed(self, error: RealtimeError) -> None:
        """Gave up: the app must ask the user (bad key, bad URL) before anything else is tried."""
        self._connected = False
        self._pressed = False
        self._error(error)
        self._set_state(TurnState.ERROR)

    def set_config(self, config: SessionConfig) -> None:
        """A new session.update with the whole configuration, e.g. switching push-to-talk <-> hands-free."""
        leaving_ptt = not self._config.hands_free and config.hands_free
        self._config = config
        if leaving_ptt and self._pressed:
            self._pressed = False
            self._set_state(TurnState.IDLE)
        if self._connected:
            self._send_config()

    def _send_config(self) -> None:
        event_id = self._send(ev.session_update(self._config))
        self._pending_update = (event_id, self._clock() + self._update_timeout_s)

    def tick(self) -> None:
        """Called every few hundred ms by the driver: timeouts and the end of playback."""
        if self._pending_update is not None and self._clock() > self._pending_update[1]:
            self._pending_update = None
            self._error(
                SessionUpdateError(
                    f"no session.updated within {self._update_timeout_s:g} s: configuration not confirmed"
                )
            )
        item = self._audio.get(self._current_audio or "")
        if item is not None and item.audio_done and not item.playback_finished and self._played_samples:
            if self._played_samples(item.item_id) >= item.received:
                self.playback_finished(item.item_id)

    # ---------------------------------------------------------------------------------------- user actions

    def press(self) -> bool:
        """Push-to-talk pressed: cut the assistant off if needed, start a fresh input buffer."""
        if not self._connected:
            self._effects.append(Notice("Not connected: what you say now is not sent. Typed messages wait."))
            return False
        self._interrupt_if_busy()
        self._abandon_tool_followups()
        if self._config.hands_free:
            return True  # hands-free: pressing is a barge-in; the server's VAD decides turns
        self._send(ev.audio_clear())
        self._pressed = True
        self._turn_samples = 0
        self._set_state(TurnState.LISTENING)
        return True

    def audio(self, pcm: bytes, *, preroll: bool = False) -> None:
        """Microphone PCM16 mono 24 kHz. Sent while push-to-talk is held, or always in hands-free mode.

        `preroll` audio (captured just before the press, so the first syllable is kept) does not count toward
        the turn's length: a click must not become a turn because of the audio before it."""
        if not pcm or not self._connected:
            return
        if self._config.hands_free or self._pressed:
            self._send(ev.audio_append(pcm))
            if not preroll:
                self._turn_samples += len(pcm) // 2

    def release(self) -> bool:
        """Push-to-talk released: commit and ask for an answer, or drop a turn too short to be speech."""
        if not self._pressed:
            return False
        self._pressed = False
        if self._turn_samples * 1000 < MIN_TURN_MS * SAMPLE_RATE:
            self._send(ev.audio_clear())
            self._set_state(TurnState.IDLE)
            return False
        self._send(ev.audio_commit())
        self._send(ev.response_create())
        self._set_state(TurnState.THINKING)
        return True

    def send_text(self, text: str) -> None:
        if not text.strip():
            return
        if not self._connected:
            self.queued_texts.append(text)
            self._effects.append(
                Notice(f"Not connected: {_messages(len(self.queued_texts))} will be sent when the link is back.")
            )
            return
        self._interrupt_if_busy()
        self._abandon_tool_followups()
        self._send(ev.user_text(text))
        self._unconfirmed.append(text)
        self._send(ev.response_create())
        self._set_state(TurnState.THINKING)

    def stop(self) -> None:
        """The Stop button: drop a held turn, silence the assistant, back to idle."""
        if self._pressed:
            self._pressed = False
            if self._connected:
                self._send(ev.audio_clear())
        self._interrupt_if_busy()
        self._abandon_tool_followups()
        if self._connected:
            self._set_state(TurnState.IDLE)

    def function_result(self, call_id: str, output: str) -> None:
        """The handler's answer; the follow-up response.create waits for all calls and for response.done."""
        for response in self._responses.values():
            if call_id in response.calls and call_id not in response.answered:
                response.answered.add(call_id)
                if self._connected:
                    self._send(ev.function_call_output(call_id, output))
                self._maybe_continue(response)
                if response.continued and response.done and response.answered >= set(response.calls):
                    self._responses.pop(response.id, None)  # abandoned earlier: nothing more to wait for
                return
        log.warning("result for an unknown or already answered function call %s", call_id)

    def playback_finished(self, item_id: str) -> None:
        """The player has played everything it was given for this item."""
        item = self._audio.get(item_id)
        if item is None or item.playback_finished:
            return
        item.playback_finished = True
        if (
            item_id == self._current_audio
            and self._active_response is None
            and self._state is TurnState.SPEAKING
        ):
            self._set_state(TurnState.IDLE)

    # ---------------------------------------------------------------------------------------- interruption

    def _played(self, item: _AudioItem) -> int:
        if item.playback_finished:
            return item.received
        return self._played_samples(item.item_id) if self._played_samples else item.received

    def _still_playing(self, item: _AudioItem) -> bool:
        if item.interrupted or item.playback_finished:
            return False
        return not (
            item.audio_done
            and self._played_samples is not None
            and self._played_samples(item.item_id) >= item.received
        )

    def _busy(self) -> bool:
        response = self._responses.get(self._active_response or "")
        if response is not None and response.id not in self._dropped_responses:
            return True
        if self._awaiting_created > self._drop_created:
            return True
        item = self._audio.get(self._current_audio or "")
        return item is not None and self._still_playing(item)

    def _interrupt_if_busy(self) -> None:
        if self._busy():
            self.interrupt()

    def interrupt(self, played_samples: int | None = None, *, server_cancelled: bool = False) -> bool:
        """Barge-in: stop playback, cancel the answer if still generating, truncate to what was heard.

        Idempotent: a second trigger for the same answer (local VAD, then the server's speech_started) does
        nothing. `server_cancelled` is set when the server cancels by itself (interrupt_response), so no
        response.cancel goes out that would only earn `response_cancel_not_active`.
        """
        response = self._responses.get(self._active_response or "")
        if response is not None and response.id in self._dropped_responses:
            response = None
        item = self._audio.get(self._current_audio or "")
        if item is not None and (
            item.interrupted
            or not (self._still_playing(item) or (response is not None and item.response_id == response.id))
        ):
            item = None
        if response is None and item is None:
            if self._awaiting_created <= self._drop_created:
                return False
            # Asked for, not created yet: the server handles events in order, so a cancel sent now finds it.
            # On the server's own speech_started it is cancelled once created: the server stops only a
            # response already running when speech starts, and this one comes after (left alone, it would play
            # on in the model's memory, and keep the server from answering the user's turn).
            if server_cancelled:
                self._cancel_created += self._awaiting_created - self._drop_created
            elif self._connected:
                self._cancel_ids.add(self._send(ev.response_cancel()))
            self._drop_created = self._awaiting_created
            if self._state is TurnState.THINKING:
                self._set_state(TurnState.IDLE)
            return True
        stopped_at: int | None = None
        if item is not None:
            item.interrupted = True
            if self._stop_playback is not None and played_samples is None and not item.playback_finished:
                # Silence first, then read the clock: what already left for the speaker is heard too.
                stopped_at = self._stop_playback(item.item_id)
            self._effects.append(StopPlayback(item.item_id))
            self._dropped_responses.append(item.response_id)
        if response is not None:
            self._dropped_responses.append(response.id)
            response.continued = True
            if not response.done and not server_cancelled and self._connected:
                self._cancel_ids.add(self._send(ev.response_cancel(response.id)))
        if item is not None:
            played = played_samples if played_samples is not None else stopped_at
            if played is None:
                played = self._played(item)
            played = min(max(played, 0), item.received)
            audio_end_ms = played * 1000 // SAMPLE_RATE
            if audio_end_ms > 0 and self._connected:
                self._send(ev.truncate(item.item_id, item.content_index, audio_end_ms))
            entry = self.conversation.get(item.item_id)
            if entry is not None:
                fraction = played / item.received if item.received else 0.0
                self._transcript(replace(entry, interrupted=True, heard_fraction=fraction))
        if self._state in (TurnState.THINKING, TurnState.SPEAKING):
            self._set_state(TurnState.IDLE)
        return True

    # --------------------------------------------------------------------------------------- server events

    def receive(self, raw: str | bytes) -> None:
        event = self._parser.parse(raw)
        if event is not None:
            self.handle(event)

    def handle(self, event: ev.ServerEvent) -> None:  # one flat dispatch, in protocol order
        match event:
            case ev.SessionCreated():
                if self._state in (TurnState.CONNECTING, TurnState.RECONNECTING):
                    self._set_state(TurnState.IDLE)
            case ev.SessionUpdated(session=session):
                self._pending_update = None
                self.effective_session = dict(session)
                self._effects.append(SessionConfigured(session))
                if self._state in (TurnState.CONNECTING, TurnState.RECONNECTING):
                    self._set_state(TurnState.IDLE)
            case ev.ErrorEvent(info=info):
                self._on_error(info)
            case ev.RateLimitsUpdated(rate_limits=limits):
                self.rate_limits = limits
                self._effects.append(RateLimitsChanged(limits))
            case ev.SpeechStarted():
                self._on_speech_started()
            case ev.SpeechStopped():
                if self._config.hands_free and self._state is TurnState.LISTENING:
                    self._set_state(TurnState.THINKING if self._config.create_response else TurnState.IDLE)
            case ev.InputCommitted():
                if self._config.hands_free and not self._config.create_response:
                    self._send(ev.response_create())
                    self._set_state(TurnState.THINKING)
            case ev.ItemAdded(item=item, previous_item_id=previous):
                self._on_item(item, previous)
            case ev.ItemDone(item=item):
                self._on_item(item, None)
            case ev.InputTranscriptDelta(item_id=item_id, delta=delta):
                entry = self.conversation.get(item_id) or self.conversation.add(item_id, "user")
                self._transcript(replace(entry, text=entry.text + delta))
            case ev.InputTranscriptCompleted(item_id=item_id, transcript=transcript):
                entry = self.conversation.get(item_id) or self.conversation.add(item_id, "user")
                self._transcript(replace(entry, text=transcript, done=True))
            case ev.InputTranscriptFailed(item_id=item_id, message=message):
                log.info("user transcription failed for %s: %s", item_id, message)
                entry = self.conversation.get(item_id) or self.conversation.add(item_id, "user")
                self._transcript(replace(entry, done=True, failed=True))
            case ev.ResponseCreated(response_id=response_id):
                self._on_response_created(response_id)
            case ev.OutputItemAdded(response_id=response_id, item=item):
                if item.type == "message" and response_id not in self._dropped_responses:
                    self.conversation.add(item.id, item.role or "assistant")
            case ev.AudioDelta():
                self._on_audio(event)
            case ev.AudioDone(item_id=item_id):
                finished = self._audio.get(item_id)
                if finished is not None and not finished.audio_done:
                    finished.audio_done = True
                    if not finished.interrupted:
                        self._effects.append(AudioFinished(item_id))
            case ev.TranscriptDelta(response_id=response_id, item_id=item_id, delta=delta):
                if response_id not in self._dropped_responses:
                    entry = self.conversation.get(item_id) or self.conversation.add(item_id, "assistant")
                    self._transcript(replace(entry, text=entry.text + delta))
            case ev.TranscriptDone(response_id=response_id, item_id=item_id, transcript=transcript):
                if response_id not in self._dropped_responses:
                    entry = self.conversation.get(item_id) or self.conversation.add(item_id, "assistant")
                    self._transcript(replace(entry, text=transcript or entry.text, done=True))
            case ev.FunctionCallDone(
                response_id=response_id, call_id=call_id, name=name, arguments=arguments
            ):
                self._on_function_call(response_id, call_id, name, arguments)
            case ev.OutputItemDone(response_id=response_id, item=item):
                if item.type == "function_call" and item.call_id:
                    self._on_function_call(response_id, item.call_id, item.name or "", item.arguments or "{}")
            case ev.ResponseDone():
                self._on_response_done(event)
            case _:
                pass

    def _on_error(self, info: ServerErrorInfo) -> None:
        caused_by = self._sent_types.get(info.event_id or "")
        info = replace(info, caused_by=caused_by)
        if info.code == "response_cancel_not_active" and info.event_id in self._cancel_ids:
            # The response ended (or the server cancelled it on speech) while our cancel was in flight.
            log.debug("cancel arrived after the response ended; harmless")
            return
        if self._pending_update is not None and info.event_id == self._pending_update[0]:
            self._pending_update = None
            self._error(SessionUpdateError(f"session configuration rejected: {info.code}: {info.message}"))
            return
        if caused_by == "response.create" and self._awaiting_created > 0:
            self._awaiting_created -= 1
            self._drop_created = min(self._drop_created, self._awaiting_created)
            self._cancel_created = min(self._cancel_created, self._drop_created)
        if (
            caused_by in ("input_audio_buffer.commit", "response.create")
            and self._state is TurnState.THINKING
        ):
            self._set_state(TurnState.IDLE)
        self._error(ServerError(info))

    def _on_response_created(self, response_id: str) -> None:
        self._responses[response_id] = response = _Response(response_id)
        self._active_response = response_id
        if self._awaiting_created > 0:
            self._awaiting_created -= 1
            if self._drop_created > 0:
                self._drop_created -= 1
                self._dropped_responses.append(response_id)
                response.continued = True
                if self._cancel_created > 0:
                    self._cancel_created -= 1
                    if self._connected:
                        self._cancel_ids.add(self._send(ev.response_cancel(response_id)))
                return
        if self._state in (TurnState.IDLE, TurnState.THINKING):
            self._set_state(TurnState.THINKING)

    def _on_speech_started(self) -> None:
        if not self._config.hands_free:
            return
        if self._config.interrupt_response:
            # The server cancels its own response on speech; locally we still stop playback and truncate.
            self.interrupt(server_cancelled=True)
        self._abandon_tool_followups()  # the server answers the new turn itself; a follow-up would collide
        self._set_state(TurnState.LISTENING)

    def _on_item(self, item: ev.ItemInfo, previous: str | None) -> None:
        if item.type != "message" or item.role not in ("user", "assistant"):
            return
        known = item.id in self.conversation
        if item.role == "user" and item.text in self._unconfirmed:
            self._unconfirmed.remove(item.text)
        entry = self.conversation.add(item.id, item.role, previous)
        if item.text and not entry.text and item.role == "user":
            self._transcript(replace(entry, text=item.text, done=True))
        elif not known:
            self._effects.append(TranscriptChanged(entry))

    def _on_audio(self, delta: ev.AudioDelta) -> None:
        if delta.response_id in self._dropped_responses:
            return  # late audio of an interrupted answer: never hand it to the player
        item = self._audio.get(delta.item_id)
        if item is None:
            item = self._audio[delta.item_id] = _AudioItem(
                delta.item_id, delta.response_id, delta.content_index
            )
            self._current_audio = delta.item_id
            if delta.item_id not in self.conversation:
                self._effects.append(TranscriptChanged(self.conversation.add(delta.item_id, "assistant")))
        item.received += len(delta.pcm) // 2
        self._effects.append(PlayAudio(delta.item_id, delta.content_index, delta.pcm))
        if self._state in (TurnState.IDLE, TurnState.THINKING):
            self._set_state(TurnState.SPEAKING)

    def _on_function_call(self, response_id: str, call_id: str, name: str, arguments: str) -> None:
        response = self._responses.setdefault(response_id, _Response(response_id))
        if call_id in response.calls:
            return  # function_call_arguments.done and output_item.done describe the same call
        response.calls[call_id] = name
        if response_id in self._dropped_responses:  # the user cut this reply off: its late calls never run
            self.function_result(call_id, json.dumps({"error": f"cancelled: the user interrupted before {name} ran"}))
            return
        self._effects.append(FunctionCallRequested(call_id, name, arguments))

    def _on_response_done(self, done: ev.ResponseDone) -> None:
        response = self._responses.setdefault(done.response_id, _Response(done.response_id))
        response.done, response.status = True, done.status
        if self._active_response == done.response_id:
            self._active_response = None
        if done.usage is not None:
            self.usage = self.usage.add(done.usage)
            prices = self._pricing(self._config.model)
            self._effects.append(
                UsageChanged(self.usage, self.usage.cost_usd(prices), *meter_text(self.usage, prices))
            )
        if done.status in ("failed", "incomplete"):
            log.info("response %s ended %s: %s", done.response_id, done.status, done.status_details)
        waiting_for_tools = bool(response.calls) and not response.continued
        self._maybe_continue(response)
        dropped = done.response_id in self._dropped_responses
        newer_pending = self._awaiting_created > 0 or self._active_response is not None
        if not dropped and not newer_pending and self._state in (TurnState.THINKING, TurnState.SPEAKING):
            item = self._audio.get(self._current_audio or "")
            if item is not None and item.response_id == done.response_id and self._still_playing(item):
                self._set_state(TurnState.SPEAKING)
            elif waiting_for_tools and response.status == "completed":
                self._set_state(TurnState.THINKING)
            else:
                self._set_state(TurnState.IDLE)
        if not response.calls or response.continued:
            self._responses.pop(done.response_id, None)

    def _maybe_continue(self, response: _Response) -> None:
        """One response.create after that response's response.done, once every call in it has its output."""
        if (
            response.done
            and not response.continued
            and response.status == "completed"
            and response.calls
            and response.answered >= set(response.calls)
        ):
            response.continued = True
            if self._connected:
                self._send(ev.response_create())
                self._set_state(TurnState.THINKING)
            self._responses.pop(response.id, None)

    def _abandon_tool_followups(self) -> None:
        """The user spoke again: the new turn's answer will see the tool outputs; no extra response.create.
        Calls still running are reported, so the app cancels them (their outputs are still sent)."""
        unanswered: list[str] = []
        for response in self._responses.values():
            if response.calls:
                response.continued = True
                unanswered += [call_id for call_id in response.calls if call_id not in response.answered]
        if unanswered:
            self._effects.append(FunctionCallsAbandoned(tuple(unanswered)))


def _messages(count: int) -> str:
    return "your message" if count == 1 else f"{count} messages"
