"""One Realtime connection: its session configuration, input buffer, turn detection, conversation, timers
and the response in progress.

Client events are handled one at a time in arrival order (`handle`), as the live server does; a response
runs as its own task so appends, pings and `response.cancel` are served while it speaks. Cancelling waits
until that response's `response.done` has gone out, so the client never sees a delta after it.

Why one module of this size: it is the server side of the whole Realtime protocol for one connection; the
turn logic, the response task and the event handlers share that connection's state.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from desktop.engine import brain, protocol
from desktop.engine.conversation import Conversation, Item
from desktop.engine.pipeline import Pipeline
from desktop.engine.vad import TurnDetector, TurnSettings

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]

BYTES_PER_MS = protocol.RATE * 2 / 1000
MIN_COMMIT_MS = 100.0
CHUNK_MS = 100  # audio per output_audio.delta
MAX_LEAD_S = 3.0  # how far synthesis may run ahead of real time: like the live server, faster than
# playback but not instantly, so a cancel or an interruption still stops most of a long reply
KEEP_BEFORE_SPEECH_MS = 1500.0  # buffer kept while hands-free waits for speech (covers prefix padding)
SEMANTIC_SILENCE_MS = {"low": 900, "medium": 600, "auto": 500, "high": 300}
LISTENING = "I'm listening."


@dataclass
class _Timer:
    label: str
    due: float  # loop time
    handle: asyncio.TimerHandle


@dataclass
class _Response:
    id: str
    task: asyncio.Task[None] | None = None
    cancel_reason: str | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    output: list[Item] = field(default_factory=list)


class RealtimeSession:
    def __init__(self, pipeline: Pipeline, send: Send, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.pipeline = pipeline
        self._send = send
        self._clock = clock or (lambda: dt.datetime.now().astimezone())
        self.config = protocol.default_session()
        self.conversation = Conversation()
        self.buffer = bytearray()
        self.buffer_origin_ms = 0.0  # stream time of buffer[0] (hands-free keeps only recent audio)
        self.stream_ms = 0.0  # all audio appended during the session
        self.input_audio_ms_total = 0.0
        self.detector: TurnDetector | None = None
        self._detector_origin_ms = 0.0
        self._speech_item: str | None = None
        self.active: _Response | None = None
        self.timers: dict[str, _Timer] = {}
        self._announcements: list[str] = []
        self._pending_calls: dict[str, brain.CallTool] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._configure_detector()

    # ------------------------------------------------------------------------------------------ plumbing

    async def emit(self, event: protocol.Event) -> None:
        if self._closed:
            return
        event = {"event_id": protocol.new_id("event"), **event}
        await self._send(json.dumps(event))

    async def _error(self, code: str, message: str, event_id: str | None, param: str | None = None) -> None:
        await self.emit(protocol.error(code, message, event_id, param))

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def start(self) -> None:
        await self.emit({"type": "session.created", "session": protocol.public_session(self.config)})

    async def close(self) -> None:
        """The connection is gone: stop the response, timers and recognitions without emitting."""
        self._closed = True
        for timer in self.timers.values():
            timer.handle.cancel()
        self.timers.clear()
        tasks = list(self._background)
        if self.active is not None and self.active.task is not None:
            tasks.append(self.active.task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------------------------------ dispatch

    async def handle_text(self, raw: str | bytes) -> None:
        """One message from the client; malformed input gets an `error`, never a closed connection."""
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await self._error("invalid_json", "The message could not be parsed as JSON.", None)
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self._error("invalid_value", "Every event must be a JSON object with a string 'type'.", None,
                              "type")
            return
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        handler = _HANDLERS.get(event["type"])
        if handler is None:
            await self._error("invalid_value", f"Invalid value: '{event['type']}'. Unsupported event type.",
                              event_id, "type")
            return
        try:
            await handler(self, event, event_id)
        except _MissingField as missing:
            await self._error("missing_required_parameter", f"Missing required parameter: '{missing.param}'.",
                              event_id, missing.param)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            log.debug("bad %s event", event["type"], exc_info=True)
            await self._error("invalid_value", f"Invalid {event['type']} event: {exc}", event_id)
        except Exception as exc:  # an engine bug must cost one event, not the connection
            log.exception("handling %s failed", event["type"])
            await self.emit(protocol.error("engine_error", f"The engine failed on {event['type']}: {exc}",
                                           event_id, kind="server_error"))

    # ------------------------------------------------------------------------------------------ session

    async def _session_update(self, event: dict[str, Any], event_id: str | None) -> None:
        update = _required(event, "session")
        try:
            protocol.check_session_update(update)
        except protocol.SessionUpdateError as exc:
            await self._error(exc.code, str(exc), event_id, exc.param)
            return
        protocol.merge(self.config, update)
        self._configure_detector()
        await self.emit({"type": "session.updated", "session": protocol.public_session(self.config)})

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        value = self.config["audio"]["input"].get("turn_detection")
        return value if isinstance(value, dict) else None

    def _configure_detector(self) -> None:
        detection = self.turn_detection
        if detection is None:
            self.detector = None
            return
        if detection["type"] == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS.get(str(detection.get("eagerness") or "auto"), 500)
            settings = TurnSettings(0.5, 300.0, float(silence))
        else:
            settings = TurnSettings(float(detection.get("threshold") or 0.5),
                                    float(detection.get("prefix_padding_ms") or 300),
                                    float(detection.get("silence_duration_ms") or 200))
        if self.detector is None:
            self.detector = TurnDetector(settings)
            self._detector_origin_ms = self.stream_ms
        else:
            self.detector.settings = settings

    # ------------------------------------------------------------------------------------------ input audio

    async def _append(self, event: dict[str, Any], event_id: str | None) -> None:
        audio = _required(event, "audio")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError, TypeError):
            await self._error("invalid_value", "audio must be base64-encoded PCM16.", event_id, "audio")
            return
        self.buffer.extend(pcm)
        self.stream_ms += len(pcm) / BYTES_PER_MS
        if self.detector is None:
            return
        for detection in self.detector.feed(pcm):
            at_ms = self._detector_origin_ms + detection.ms
            if detection.kind == "started":
                await self._speech_started(at_ms)
            else:
                await self._speech_stopped(at_ms)
        if not self.detector.in_speech:
            self._forget_old_audio()

    def _forget_old_audio(self) -> None:
        """While hands-free waits for speech, only the recent audio can become part of a turn."""
        excess_ms = self.stream_ms - self.buffer_origin_ms - KEEP_BEFORE_SPEECH_MS
        if excess_ms > 500:
            drop = int(excess_ms * BYTES_PER_MS) // 2 * 2
            del self.buffer[:drop]
            self.buffer_origin_ms += drop / BYTES_PER_MS

    async def _speech_started(self, start_ms: float) -> None:
        self._speech_item = protocol.new_id("item")
        await self.emit({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(start_ms),
                         "item_id": self._speech_item})
        detection = self.turn_detection or {}
        if self.active is not None and detection.get("interrupt_response", True) is not False:
            await self._cancel_active("turn_detected")

    async def _speech_stopped(self, end_ms: float) -> None:
        item_id = self._speech_item or protocol.new_id("item")
        self._speech_item = None
        await self.emit({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(end_ms),
                         "item_id": item_id})
        start_ms = 0.0
        if self.detector is not None:
            start_ms = (self._detector_origin_ms + self.detector.speech_start_ms
                        - self.detector.settings.prefix_padding_ms)
        first = max(0, int((start_ms - self.buffer_origin_ms) * BYTES_PER_MS) // 2 * 2)
        last = max(first, int((end_ms - self.buffer_origin_ms) * BYTES_PER_MS) // 2 * 2)
        turn = bytes(self.buffer[first:last])
        del self.buffer[:last]
        self.buffer_origin_ms += last / BYTES_PER_MS
        await self._commit_audio(item_id, turn)
        detection = self.turn_detection or {}
        if detection.get("create_response", True) is not False and self.active is None:
            self._start_response()

    async def _commit(self, event: dict[str, Any], event_id: str | None) -> None:
        ms = len(self.buffer) / BYTES_PER_MS
        if ms < MIN_COMMIT_MS:
            await self._error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS:.0f}ms "
                f"of audio, but buffer only has {ms:.2f}ms of audio.", event_id)
            return
        item_id = self._speech_item or protocol.new_id("item")
        self._speech_item = None
        turn = bytes(self.buffer)
        self._reset_input()
        await self._commit_audio(item_id, turn)

    async def _clear(self, event: dict[str, Any], event_id: str | None) -> None:
        self._reset_input()
        await self.emit({"type": "input_audio_buffer.cleared"})

    def _reset_input(self) -> None:
        self.buffer.clear()
        self.buffer_origin_ms = self.stream_ms
        self._speech_item = None
        if self.detector is not None:
            self.detector.reset()

    async def _commit_audio(self, item_id: str, pcm: bytes) -> None:
        self.input_audio_ms_total += len(pcm) / BYTES_PER_MS
        item = Item(item_id, "message", "user", content_type="input_audio")
        previous = self.conversation.add(item)
        item.transcript = self._spawn(self._transcribe(item, pcm))
        await self.emit({"type": "input_audio_buffer.committed", "item_id": item_id,
                         "previous_item_id": previous})
        await self.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": item.to_event()})
        await self.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": item.to_event()})

    async def _transcribe(self, item: Item, pcm: bytes) -> str:
        wanted = bool(self.config["audio"]["input"].get("transcription"))
        try:
            result = await self.pipeline.transcribe(pcm)
        except Exception as exc:
            log.exception("recognition failed")
            if wanted:
                await self.emit({"type": "conversation.item.input_audio_transcription.failed",
                                 "item_id": item.id, "content_index": 0,
                                 "error": {"type": "server_error", "code": "transcription_failed",
                                           "message": str(exc), "param": None}})
            return ""
        item.text = result.text
        log.info("heard %r (%.2f s audio, %.2f s, %s path)", result.text, result.seconds, result.elapsed,
                 result.path)
        if wanted:
            await self.emit({"type": "conversation.item.input_audio_transcription.completed",
                             "item_id": item.id, "content_index": 0, "transcript": result.text,
                             "usage": {"type": "duration", "seconds": round(len(pcm) / BYTES_PER_MS / 1000, 3)}})
        return result.text

    # ------------------------------------------------------------------------------------------ conversation

    async def _item_create(self, event: dict[str, Any], event_id: str | None) -> None:
        raw = _required(event, "item")
        if not isinstance(raw, dict):
            raise ValueError("item must be an object")
        kind = raw.get("type")
        given = raw.get("id")
        item_id = given if isinstance(given, str) else protocol.new_id("item")
        if item_id in self.conversation.items:
            await self._error("invalid_value", f"Item with id '{item_id}' already exists.", event_id, "item.id")
            return
        if kind == "function_call_output":
            item = Item(item_id, kind, call_id=str(_required(raw, "call_id", "item.")),
                        output=str(_required(raw, "output", "item.")))
        elif kind == "message":
            role = raw.get("role")
            if role not in ("user", "assistant", "system"):
                await self._error("invalid_value", "item.role must be user, assistant or system.", event_id,
                                  "item.role")
                return
            parts = raw.get("content") or []
            text = " ".join(str(part.get("text") or part.get("transcript") or "") for part in parts
                            if isinstance(part, dict)).strip()
            content_type = str((parts[0] or {}).get("type") if parts and isinstance(parts[0], dict) else "")
            default_type = {"user": "input_text", "system": "input_text", "assistant": "output_text"}[role]
            item = Item(item_id, kind, role, text=text, content_type=content_type or default_type)
        elif kind == "function_call":
            item = Item(item_id, kind, call_id=str(raw.get("call_id") or protocol.new_id("call")),
                        name=str(_required(raw, "name", "item.")), arguments=str(raw.get("arguments") or ""))
        else:
            await self._error("invalid_value", f"Unsupported item type: '{kind}'.", event_id, "item.type")
            return
        previous = self.conversation.add(item)
        await self.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": item.to_event()})
        await self.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": item.to_event()})

    async def _item_truncate(self, event: dict[str, Any], event_id: str | None) -> None:
        item_id = str(_required(event, "item_id"))
        audio_end_ms = _required(event, "audio_end_ms")
        content_index = event.get("content_index", 0)
        item = self.conversation.get(item_id)
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool) or audio_end_ms < 0:
            await self._error("invalid_value", "audio_end_ms must be a non-negative integer.", event_id,
                              "audio_end_ms")
        elif item is None:
            await self._error("item_not_found", f"Item '{item_id}' not found.", event_id, "item_id")
        elif item.role != "assistant" or item.audio_ms <= 0:
            await self._error("unsupported_content_type", "Only assistant audio can be truncated.", event_id,
                              "item_id")
        elif audio_end_ms > item.audio_ms:
            await self._error("invalid_value", f"Audio content of {int(item.audio_ms)}ms is already shorter "
                              f"than {audio_end_ms}ms", event_id, "audio_end_ms")
        else:
            item.text = item.heard_text(audio_end_ms)
            item.marks = [(min(end, float(audio_end_ms)), min(length, len(item.text)))
                          for end, length in item.marks if end <= audio_end_ms] + [(float(audio_end_ms),
                                                                                    len(item.text))]
            item.audio_ms = float(audio_end_ms)
            await self.emit({"type": "conversation.item.truncated", "item_id": item_id,
                             "content_index": content_index, "audio_end_ms": audio_end_ms})

    async def _item_delete(self, event: dict[str, Any], event_id: str | None) -> None:
        item_id = str(_required(event, "item_id"))
        if not self.conversation.delete(item_id):
            await self._error("item_not_found", f"Item '{item_id}' not found.", event_id, "item_id")
            return
        await self.emit({"type": "conversation.item.deleted", "item_id": item_id})

    async def _item_retrieve(self, event: dict[str, Any], event_id: str | None) -> None:
        item_id = str(_required(event, "item_id"))
        item = self.conversation.get(item_id)
        if item is None:
            await self._error("item_not_found", f"Item '{item_id}' not found.", event_id, "item_id")
            return
        await self.emit({"type": "conversation.item.retrieved", "item": item.to_event()})

    # ------------------------------------------------------------------------------------------ responses

    async def _response_create(self, event: dict[str, Any], event_id: str | None) -> None:
        if self.active is not None:
            await self._error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. Wait until the "
                "response is finished before creating a new one.", event_id)
            return
        self._start_response()

    async def _response_cancel(self, event: dict[str, Any], event_id: str | None) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            await self._error("response_cancel_not_active", "Cancellation failed: no active response found",
                              event_id)
            return
        await self._cancel_active("client_cancelled")

    async def _output_audio_buffer_clear(self, event: dict[str, Any], event_id: str | None) -> None:
        await self._error("invalid_value", "output_audio_buffer.clear is only for WebRTC and SIP connections.",
                          event_id, "type")

    def _start_response(self, announcement: str | None = None) -> None:
        response = _Response(protocol.new_id("resp"))
        self.active = response
        response.task = asyncio.ensure_future(self._respond(response, announcement))

    async def _cancel_active(self, reason: str) -> None:
        response = self.active
        if response is None or response.task is None:
            return
        response.cancel_reason = reason
        await response.started.wait()  # a task cancelled before its first step would skip response.done
        response.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await response.task

    async def _respond(self, response: _Response, announcement: str | None) -> None:
        base = {"id": response.id, "object": "realtime.response", "output_modalities": ["audio"],
                "conversation_id": "conv_default"}
        spoken_ms, spoken_text = 0.0, ""
        details: dict[str, Any]
        response.started.set()
        try:
            await self.emit({"type": "response.created",
                             "response": {**base, "status": "in_progress", "output": []}})
            decision = await self._decide(announcement)
            if isinstance(decision, brain.CallTool):
                await self._stream_call(response, decision)
            else:
                self._apply_timers(decision)
                spoken_ms, spoken_text = await self._stream_speech(response, decision.text)
            status, details = "completed", {"type": "completed"}
        except asyncio.CancelledError:
            if response.cancel_reason is None:
                raise  # the connection closed: nothing to report to
            status, details = "cancelled", {"type": "cancelled", "reason": response.cancel_reason}
            spoken_ms, spoken_text = await self._finish_cancelled(response)
        except Exception as exc:
            log.exception("response failed")
            status = "failed"
            details = {"type": "failed", "error": {"type": "server_error", "code": "engine_error",
                                                    "message": str(exc)}}
        try:
            text_in = (len(str(self.config.get("instructions") or "")) + sum(
                len(item.text) + len(item.output) for item in self.conversation.items.values())) // 4
            await self.emit({"type": "response.done", "response": {
                **base, "status": status, "status_details": details,
                "output": [item.to_event() for item in response.output],
                "usage": protocol.usage(text_in, int(self.input_audio_ms_total / 100), len(spoken_text) // 4,
                                        int(spoken_ms / 50)),
            }})
        finally:
            # Only now: a response.create handled before response.done went out would overlap this one.
            if self.active is response:
                self.active = None
        if self._announcements:
            asyncio.get_running_loop().call_soon(self._announce_due)

    async def _decide(self, announcement: str | None) -> brain.Decision:
        if announcement is not None:
            return brain.Say(announcement, "timer_done")
        pending = self.conversation.pending_transcripts()
        if pending:
            await asyncio.wait(pending)  # not gather: a cancel must not cancel the recognitions
        tail = self.conversation.since_last_response()
        results = [item for item in tail if item.type == "function_call_output"]
        if results:
            spoken = []
            for item in results:
                call = self._pending_calls.pop(item.call_id, None)
                call = call or brain.CallTool(item.call_id, {}, "unknown")
                spoken.append(brain.speak_tool_result(call, item.output))
            return brain.Say(" ".join(spoken), "tool_result")
        said = [item.text for item in tail if item.type == "message" and item.role == "user"]
        if not said:
            return brain.Say(LISTENING, "listening")
        context = brain.BrainContext(now=self._clock(), tools=self._tools(), timers=self._timer_status(),
                                     last_reply=self.conversation.last_assistant_text())
        return brain.decide(said[-1], context)

    def _tools(self) -> tuple[brain.ToolSpec, ...]:
        if self.config.get("tool_choice") == "none":
            return ()
        found = []
        for tool in self.config.get("tools") or []:
            if isinstance(tool, dict) and tool.get("type", "function") == "function" and tool.get("name"):
                parameters = tool.get("parameters")
                found.append(brain.ToolSpec(str(tool["name"]), str(tool.get("description") or ""),
                                            parameters if isinstance(parameters, dict) else {}))
        return tuple(found)

    async def _open_assistant_item(self, response: _Response) -> tuple[Item, str | None, dict[str, Any]]:
        item = Item(protocol.new_id("item"), "message", "assistant", status="in_progress")
        previous = self.conversation.add(item)
        response.output.append(item)
        ids = {"response_id": response.id, "item_id": item.id, "output_index": 0, "content_index": 0}
        await self.emit({"type": "response.output_item.added", "response_id": response.id, "output_index": 0,
                         "item": protocol.assistant_item(item.id, "in_progress", None)})
        await self.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": protocol.assistant_item(item.id, "in_progress", None)})
        await self.emit({"type": "response.content_part.added", **ids,
                         "part": {"type": "audio", "transcript": ""}})
        return item, previous, ids

    async def _stream_speech(self, response: _Response, text: str) -> tuple[float, str]:
        item, previous, ids = await self._open_assistant_item(response)
        sentences = self.pipeline.sentences(text) or [text]
        chunk_bytes = int(CHUNK_MS * BYTES_PER_MS)
        started: float | None = None
        speed = float(self.config["audio"]["output"].get("speed") or 1.0)
        upcoming = asyncio.ensure_future(self.pipeline.synthesize(sentences[0], speed))
        try:
            for index, sentence in enumerate(sentences):
                pcm = await upcoming
                if index + 1 < len(sentences):  # the next sentence synthesises while this one streams
                    upcoming = asyncio.ensure_future(self.pipeline.synthesize(sentences[index + 1], speed))
                piece = sentence if not item.text else " " + sentence
                item.text += piece
                await self.emit({"type": "response.output_audio_transcript.delta", **ids, "delta": piece})
                for offset in range(0, len(pcm), chunk_bytes):
                    chunk = pcm[offset : offset + chunk_bytes]
                    await self.emit({"type": "response.output_audio.delta", **ids,
                                     "delta": base64.b64encode(chunk).decode("ascii")})
                    item.audio_ms += len(chunk) / BYTES_PER_MS
                    started = started if started is not None else time.monotonic()
                    lead = item.audio_ms / 1000 - (time.monotonic() - started)
                    if lead > MAX_LEAD_S:
                        await asyncio.sleep(lead - MAX_LEAD_S)
                item.marks.append((item.audio_ms, len(item.text)))
        finally:
            upcoming.cancel()
        await self.emit({"type": "response.output_audio.done", **ids})
        await self.emit({"type": "response.output_audio_transcript.done", **ids, "transcript": item.text})
        await self.emit({"type": "response.content_part.done", **ids,
                         "part": {"type": "audio", "transcript": item.text}})
        item.status = "completed"
        await self.emit({"type": "response.output_item.done", "response_id": response.id, "output_index": 0,
                         "item": item.to_event()})
        await self.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": item.to_event()})
        return item.audio_ms, item.text

    async def _finish_cancelled(self, response: _Response) -> tuple[float, str]:
        """Closes the items of a cancelled response as incomplete, with the text sent so far."""
        spoken_ms, spoken_text = 0.0, ""
        for index, item in enumerate(response.output):
            item.status = "incomplete"
            spoken_ms += item.audio_ms
            spoken_text += item.text
            await self.emit({"type": "response.output_item.done", "response_id": response.id,
                             "output_index": index, "item": item.to_event()})
            await self.emit({"type": "conversation.item.done",
                             "previous_item_id": self.conversation.previous_of(item.id),
                             "item": item.to_event()})
        return spoken_ms, spoken_text

    async def _stream_call(self, response: _Response, call: brain.CallTool) -> None:
        arguments = json.dumps(call.arguments)
        item = Item(protocol.new_id("item"), "function_call", status="in_progress",
                    call_id=protocol.new_id("call"), name=call.name)
        previous = self.conversation.add(item)
        response.output.append(item)
        self._pending_calls[item.call_id] = call
        ids = {"response_id": response.id, "item_id": item.id, "output_index": 0, "call_id": item.call_id}
        await self.emit({"type": "response.output_item.added", "response_id": response.id, "output_index": 0,
                         "item": item.to_event()})
        await self.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": item.to_event()})
        await self.emit({"type": "response.function_call_arguments.delta", **ids, "delta": arguments})
        item.arguments = arguments
        await self.emit({"type": "response.function_call_arguments.done", **ids, "name": call.name,
                         "arguments": arguments})
        item.status = "completed"
        await self.emit({"type": "response.output_item.done", "response_id": response.id, "output_index": 0,
                         "item": item.to_event()})
        await self.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": item.to_event()})

    # ------------------------------------------------------------------------------------------ timers

    def _apply_timers(self, decision: brain.Say) -> None:
        if decision.cancel_timers:
            for timer in self.timers.values():
                timer.handle.cancel()
            self.timers.clear()
        if decision.start_timer is not None:
            loop = asyncio.get_running_loop()
            timer_id = protocol.new_id("timer")
            label = decision.start_timer.label
            handle = loop.call_later(decision.start_timer.seconds, self._timer_fired, timer_id)
            self.timers[timer_id] = _Timer(label, loop.time() + decision.start_timer.seconds, handle)

    def _timer_status(self) -> tuple[brain.TimerStatus, ...]:
        now = asyncio.get_running_loop().time()
        return tuple(brain.TimerStatus(timer.label, max(0.0, timer.due - now)) for timer in self.timers.values())

    def _timer_fired(self, timer_id: str) -> None:
        timer = self.timers.pop(timer_id, None)
        if timer is not None and not self._closed:
            self._announcements.append(brain.timer_done_text(timer.label))
            self._announce_due()

    def _announce_due(self) -> None:
        """Speaks a finished timer as an unprompted response, once the line is free (no response running,
        the user not speaking)."""
        if self._closed or not self._announcements or self.active is not None:
            return
        if self.detector is not None and self.detector.in_speech:
            asyncio.get_running_loop().call_later(0.5, self._announce_due)
            return
        self._start_response(" ".join(self._announcements))
        self._announcements.clear()


class _MissingField(Exception):
    def __init__(self, param: str) -> None:
        super().__init__(param)
        self.param = param


def _required(event: dict[str, Any], name: str, prefix: str = "") -> Any:
    if name not in event or event[name] is None:
        raise _MissingField(prefix + name)
    return event[name]


_Handler = Callable[[RealtimeSession, dict[str, Any], "str | None"], Awaitable[None]]
_HANDLERS: dict[str, _Handler] = {
    "session.update": RealtimeSession._session_update,
    "input_audio_buffer.append": RealtimeSession._append,
    "input_audio_buffer.commit": RealtimeSession._commit,
    "input_audio_buffer.clear": RealtimeSession._clear,
    "conversation.item.create": RealtimeSession._item_create,
    "conversation.item.truncate": RealtimeSession._item_truncate,
    "conversation.item.delete": RealtimeSession._item_delete,
    "conversation.item.retrieve": RealtimeSession._item_retrieve,
    "response.create": RealtimeSession._response_create,
    "response.cancel": RealtimeSession._response_cancel,
    "output_audio_buffer.clear": RealtimeSession._output_audio_buffer_clear,
}
