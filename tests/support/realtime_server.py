"""A Realtime API server for tests, behaving as the GA protocol documents, on 127.0.0.1.

It runs in a background thread with its own asyncio loop, so plain tests, asyncio tests and Qt/qasync tests
can all use it, and it offers a thread-safe API: `received`, `wait_for`, `send`, scripting of the next
responses.

Every client event it receives is checked with tests/support/event_validation (undeclared fields included) and
every server event it sends is checked too; problems go to `violations`, which tests assert to be empty.

`wait_for(type)` consumes: each call returns the next not-yet-returned event of that type, so a test can wait
for the first `response.create`, then for the second.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support.event_validation import client_event_problems, server_event_problems

TEST_KEY = "test-key-not-a-secret"
RATE = 24_000
VALID_PATHS = ("/v1/realtime", "/openai/v1/realtime")
SPEECH_RMS = 500.0  # int16 RMS above which the energy detector calls a 20 ms frame speech
FRAME = 480  # 20 ms at 24 kHz


def spoken_tone(seconds: float = 2.0, seed: int = 7) -> bytes:
    """Speech-like PCM16: voiced "syllables" with gliding pitch and harmonics, separated by short gaps."""
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    total = int(seconds * RATE)
    produced = 0
    while produced < total:
        n = int(rng.uniform(0.12, 0.26) * RATE)
        t = np.arange(n) / RATE
        f0 = rng.uniform(110, 210) * (1 + 0.15 * t / max(t[-1], 1e-6))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        voice = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
        envelope = np.sin(np.pi * np.arange(n) / n) ** 0.6
        pieces.append(0.35 * voice * envelope)
        gap = int(rng.uniform(0.03, 0.09) * RATE)
        pieces.append(np.zeros(gap))
        produced += n + gap
    signal = np.concatenate(pieces)[:total]
    return (np.clip(signal, -1, 1) * 20000).astype("<i2").tobytes()


@dataclass
class ResponseScript:
    """What the next response.create produces. `function_calls` replaces the audio answer with calls."""

    audio: bytes | None = None  # None: spoken_tone() of about 2 s
    transcript: str = "Sure. This is the test server answering you with a short spoken reply."
    chunk_ms: int = 100
    speed: float = 8.0  # times faster than real time; 0 streams without pauses
    think_s: float = 0.0  # seconds between response.created and the first output (the model "thinking")
    function_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments_json)


@dataclass
class _Item:
    id: str
    type: str
    role: str | None
    audio_ms: float = 0.0


class _Conn:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.session: dict[str, Any] = {
            "type": "realtime",
            "model": "gpt-realtime",
            "instructions": "",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": RATE},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "marin"},
            },
            "tools": [],
            "tool_choice": "auto",
        }
        self.buffer = bytearray()
        self.items: dict[str, _Item] = {}
        self.last_item: str | None = None
        self.active: tuple[str, asyncio.Event, asyncio.Task[None]] | None = None
        self.appended_ms = 0.0
        self.input_audio_ms_total = 0.0
        self.in_speech = False
        self.loud_frames = 0  # loud frames in a row, not yet called speech
        self.speech_item: str | None = None
        self.silence_ms = 0.0

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        value = self.session["audio"]["input"].get("turn_detection")
        return value if isinstance(value, dict) else None


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class RealtimeTestServer:
    def __init__(
        self,
        *,
        key: str = TEST_KEY,
        user_transcript: str = "Hello there, this is the user.",
        port: int = 0,
        session_cap_s: float | None = None,
    ) -> None:
        self.key = key
        self.user_transcript = user_transcript
        self.default_script = ResponseScript()
        self.handshake_status: int | None = None  # force an HTTP status at the handshake (e.g. 429)
        self.handshake_headers: dict[str, str] = {}  # added to a forced status (e.g. Retry-After)
        self.handshake_body = "Refused by test\n"  # the body of a forced status (e.g. a JSON error for 400)
        self.session_cap_s = session_cap_s  # like the real server's 60 min: close 1001 after this long
        self.stalled = False  # set by stall_connections(): nothing is read or sent any more
        # Loud 20 ms frames in a row that make speech. 1 (the default) is stricter than any real detector: one
        # click cuts a reply. The echo tests ask for 3 (60 ms): a model-based VAD does not take a lone 20 ms
        # residue of an echo for the user, but does take any echo that gets through for longer.
        self.speech_frames = 1
        self.handshakes: list[dict[str, str]] = []  # request headers, credentials redacted
        self._scripts: list[ResponseScript] = []
        self._received: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._violations: list[str] = []
        self._cursors: dict[str, int] = {}
        self._cond = threading.Condition()
        self._conns: list[_Conn] = []
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.port = port

    # ---------------------------------------------------------------------------------------- thread-safe API

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"

    @property
    def received(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._received)

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._sent)

    @property
    def violations(self) -> list[str]:
        with self._cond:
            return list(self._violations)

    @property
    def connection_count(self) -> int:
        with self._cond:
            return len(self._conns)

    def received_types(self) -> list[str]:
        return [event["type"] for event in self.received]

    def script_response(self, script: ResponseScript | None = None, **fields: Any) -> None:
        """Queues what the next response.create streams (one script per response, then the default)."""
        with self._cond:
            self._scripts.append(script or ResponseScript(**fields))

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout:.1f} s")
                self._cond.wait(remaining)

    def wait_for(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next received client event of this type not returned before (blocks up to `timeout`)."""
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            start = self._cursors.get(kind, 0)
            for index in range(start, len(self._received)):
                if self._received[index]["type"] == kind:
                    self._cursors[kind] = index + 1
                    found.append(self._received[index])
                    return True
            self._cursors[kind] = len(self._received)
            return False

        try:
            self.wait_until(ready, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no {kind} received within {timeout} s; got {self.received_types()}"
            ) from None
        return found[0]

    def wait_sent(self, kind: str, timeout: float = 5.0, count: int = 1) -> dict[str, Any]:
        """Waits until the server has sent `count` events of this type; returns the last of them."""

        def ready() -> bool:
            return sum(1 for event in self._sent if event["type"] == kind) >= count

        try:
            self.wait_until(ready, timeout)
        except TimeoutError:
            raise TimeoutError(f"server did not send {count}x {kind} within {timeout} s") from None
        return [event for event in self.sent if event["type"] == kind][count - 1]

    async def async_wait_for(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """wait_for for code running on an asyncio loop (the client's loop must keep running meanwhile)."""
        return await asyncio.to_thread(self.wait_for, kind, timeout)

    async def async_wait_sent(self, kind: str, timeout: float = 5.0, count: int = 1) -> dict[str, Any]:  # noqa: ASYNC109
        return await asyncio.to_thread(self.wait_sent, kind, timeout, count)

    def send(self, event: dict[str, Any] | str) -> concurrent.futures.Future[Any]:
        """Pushes a server event (a dict, or raw text to test malformed input) to every open connection."""
        return self._call(self._broadcast(event))

    def close_connections(self, code: int = 1001, reason: str = "") -> concurrent.futures.Future[Any]:
        return self._call(self._close_all(code, reason))

    def abort_connections(self) -> concurrent.futures.Future[Any]:
        """Drops every connection without a closing handshake, as a lost network or a crashed server does."""
        return self._call(self._abort_all())

    def stall_connections(self) -> concurrent.futures.Future[Any]:
        """Open connections stop reading (so pings go unanswered) and sending, with their sockets left open."""
        return self._call(self._stall_all())

    def start(self) -> RealtimeTestServer:
        self._thread = threading.Thread(target=self._thread_main, name="realtime-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            raise RuntimeError(f"test server did not start: {self._failure!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    # ---------------------------------------------------------------------------------------- server thread

    def _call(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Schedules on the server loop without waiting: a caller on the client's loop must not block it (the
        client has to answer the close handshake). Calls keep their order; `.result()` waits if wanted."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by start()
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(
            self._handle, "127.0.0.1", self.port, process_request=self._check_request, max_size=16 * 1024 * 1024,
            close_timeout=2,  # a client that cannot answer the closing handshake (its loop blocked, its socket
            # stalled) costs a test 2 s, not websockets' default 10
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            for conn in list(self._conns):
                if self.stalled:
                    conn.ws.transport.abort()  # a stalled peer would never finish a closing handshake
                else:
                    await conn.ws.close(1001, "server stopping")

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        headers: Headers = request.headers
        recorded = {
            name.lower(): ("<redacted>" if name.lower() in ("authorization", "api-key") else value)
            for name, value in headers.raw_items()
        }
        with self._cond:
            self.handshakes.append(recorded)
        if urlsplit(request.path).path not in VALID_PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        bearer = headers.get("Authorization") == f"Bearer {self.key}"
        api_key = headers.get("api-key") == self.key
        if not (bearer or api_key):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Incorrect API key provided\n")
        if self.handshake_status is not None:
            response = connection.respond(HTTPStatus(self.handshake_status), self.handshake_body)
            for name, value in self.handshake_headers.items():
                response.headers[name] = value
            return response
        return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    async def _emit(self, conn: _Conn, event: dict[str, Any]) -> None:
        event = {"event_id": self._new_id("event"), **event}
        problems = server_event_problems(event)
        with self._cond:
            self._violations.extend(f"server sent {problem}" for problem in problems)
            if self.stalled:
                return
            self._sent.append(event)
            self._cond.notify_all()
        with contextlib.suppress(ConnectionClosed):
            await conn.ws.send(json.dumps(event))

    async def _error(
        self, conn: _Conn, code: str, message: str, event_id: str | None, param: str | None = None
    ) -> None:
        await self._emit(
            conn,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event_id,
                },
            },
        )

    async def _broadcast(self, event: dict[str, Any] | str) -> None:
        for conn in list(self._conns):
            if isinstance(event, str):
                with contextlib.suppress(ConnectionClosed):
                    await conn.ws.send(event)
            else:
                await self._emit(conn, event)

    async def _close_all(self, code: int, reason: str) -> None:
        for conn in list(self._conns):
            await conn.ws.close(code, reason)

    async def _abort_all(self) -> None:
        for conn in list(self._conns):
            conn.ws.transport.abort()

    async def _stall_all(self) -> None:
        with self._cond:
            self.stalled = True
        for conn in list(self._conns):
            conn.ws.transport.pause_reading()

    async def _cap(self, conn: _Conn, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await conn.ws.close(1001, f"Your session hit the maximum duration of {after_s:g} seconds.")

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws)
        with self._cond:
            self._conns.append(conn)
        cap = asyncio.create_task(self._cap(conn, self.session_cap_s)) if self.session_cap_s else None
        try:
            await self._emit(conn, {"type": "session.created", "session": copy.deepcopy(conn.session)})
            async for raw in ws:
                try:
                    event = json.loads(raw)
                except ValueError:
                    await self._error(conn, "invalid_json", "The message is not JSON.", None)
                    continue
                problems = client_event_problems(event)
                with self._cond:
                    self._received.append(event)
                    self._violations.extend(problems)
                    self._cond.notify_all()
                await self._dispatch(conn, event, problems)
        except ConnectionClosed:
            pass
        finally:
            if cap is not None:
                cap.cancel()
            if conn.active is not None:
                conn.active[2].cancel()
            with self._cond:
                self._conns.remove(conn)
                self._cond.notify_all()

    async def _dispatch(self, conn: _Conn, event: dict[str, Any], problems: list[str]) -> None:
        kind, event_id = event.get("type"), event.get("event_id")
        if problems:
            param = problems[0].split("undeclared field ")[-1] if "undeclared field" in problems[0] else None
            code = "unknown_parameter" if param else "invalid_value"
            await self._error(conn, code, f"Invalid event: {problems[0]}", event_id, param)
            return
        if kind == "session.update":
            _merge(conn.session, event["session"])
            await self._emit(conn, {"type": "session.updated", "session": copy.deepcopy(conn.session)})
        elif kind == "input_audio_buffer.append":
            pcm = base64.b64decode(event["audio"])
            conn.buffer.extend(pcm)
            if conn.turn_detection is not None:
                await self._detect_speech(conn, pcm)
        elif kind == "input_audio_buffer.clear":
            conn.buffer.clear()
            await self._emit(conn, {"type": "input_audio_buffer.cleared"})
        elif kind == "input_audio_buffer.commit":
            ms = len(conn.buffer) / 2 / RATE * 1000
            if ms < 100:
                await self._error(
                    conn,
                    "input_audio_buffer_commit_empty",
                    f"Error committing input audio buffer: buffer too small. Expected at least "
                    f"100ms of audio, but buffer only has {ms:.2f}ms of audio.",
                    event_id,
                )
            else:
                await self._commit(conn, self._new_id("item"))
        elif kind == "conversation.item.create":
            await self._create_item(conn, event["item"])
        elif kind == "conversation.item.truncate":
            await self._truncate(conn, event)
        elif kind == "response.create":
            if conn.active is not None:
                await self._error(
                    conn,
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {conn.active[0]}. "
                    "Wait until the response is finished before creating a new one.",
                    event_id,
                )
            else:
                self._start_response(conn)
        elif kind == "response.cancel":
            wanted = event.get("response_id")
            if conn.active is None or (wanted and wanted != conn.active[0]):
                await self._error(
                    conn,
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    event_id,
                )
            else:
                await self._cancel(conn)

    async def _commit(self, conn: _Conn, item_id: str) -> None:
        ms = len(conn.buffer) / 2 / RATE * 1000
        conn.input_audio_ms_total += ms
        conn.buffer.clear()
        previous = conn.last_item
        conn.items[item_id] = _Item(item_id, "message", "user")
        conn.last_item = item_id
        await self._emit(
            conn, {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous}
        )
        item = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._emit(
            conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self._emit(conn, {"type": "conversation.item.done", "previous_item_id": previous, "item": item})
        if conn.session["audio"]["input"].get("transcription"):
            words = self.user_transcript.split(" ")
            half = " ".join(words[: len(words) // 2]) + " "
            await self._emit(
                conn,
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": half,
                },
            )
            await self._emit(
                conn,
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": self.user_transcript,
                    "usage": {"type": "duration", "seconds": round(ms / 1000, 3)},
                },
            )

    async def _create_item(self, conn: _Conn, item: dict[str, Any]) -> None:
        item = copy.deepcopy(item)
        item.setdefault("id", self._new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        previous = conn.last_item
        conn.items[item["id"]] = _Item(item["id"], item["type"], item.get("role"))
        conn.last_item = item["id"]
        await self._emit(
            conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self._emit(conn, {"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    async def _truncate(self, conn: _Conn, event: dict[str, Any]) -> None:
        event_id, item = event.get("event_id"), conn.items.get(event["item_id"])
        if item is None:
            await self._error(
                conn, "item_not_found", f"Item {event['item_id']} not found.", event_id, "item_id"
            )
        elif item.role != "assistant" or item.audio_ms <= 0:
            await self._error(
                conn,
                "unsupported_content_type",
                "Only assistant audio can be truncated.",
                event_id,
                "item_id",
            )
        elif event["audio_end_ms"] > item.audio_ms:
            await self._error(
                conn,
                "invalid_value",
                f"Audio content of {int(item.audio_ms)}ms is already shorter than {event['audio_end_ms']}ms",
                event_id,
                "audio_end_ms",
            )
        else:
            item.audio_ms = float(event["audio_end_ms"])
            await self._emit(
                conn,
                {
                    "type": "conversation.item.truncated",
                    "item_id": item.id,
                    "content_index": event["content_index"],
                    "audio_end_ms": event["audio_end_ms"],
                },
            )

    # ---------------------------------------------------------------------------------------- responses

    def _start_response(self, conn: _Conn) -> None:
        with self._cond:
            script = self._scripts.pop(0) if self._scripts else self.default_script
        response_id = self._new_id("resp")
        cancelled = asyncio.Event()
        task = asyncio.create_task(self._respond(conn, response_id, script, cancelled))
        conn.active = (response_id, cancelled, task)

    async def _cancel(self, conn: _Conn, reason: str = "client_cancelled") -> None:
        """Stops the running response and waits until its response.done went out, as the server does."""
        assert conn.active is not None
        _, cancelled, task = conn.active
        cancelled.reason = reason  # type: ignore[attr-defined]
        cancelled.set()
        await task

    async def _respond(
        self, conn: _Conn, response_id: str, script: ResponseScript, cancelled: asyncio.Event
    ) -> None:
        try:
            base = {"id": response_id, "object": "realtime.response", "output_modalities": ["audio"]}
            await self._emit(
                conn,
                {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}},
            )
            if script.think_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancelled.wait(), script.think_s)
            if cancelled.is_set():  # cancelled while thinking: nothing was produced
                output, out_ms, out_text = [], 0.0, 0
            elif script.function_calls:
                output, out_ms, out_text = await self._stream_calls(conn, response_id, script), 0.0, 0
            else:
                output, out_ms, out_text = await self._stream_audio(conn, response_id, script, cancelled)
            status = "cancelled" if cancelled.is_set() else "completed"
            details: dict[str, Any] = {"type": status}
            if cancelled.is_set():
                details["reason"] = getattr(cancelled, "reason", "client_cancelled")
            await self._emit(
                conn,
                {
                    "type": "response.done",
                    "response": {
                        **base,
                        "status": status,
                        "status_details": details,
                        "output": output,
                        "usage": self._usage(conn, out_ms, out_text),
                    },
                },
            )
        finally:
            if conn.active is not None and conn.active[0] == response_id:
                conn.active = None

    def _usage(self, conn: _Conn, out_ms: float, out_text: int) -> dict[str, Any]:
        text_in = 120 + len(str(conn.session.get("instructions", ""))) // 4
        audio_in = int(conn.input_audio_ms_total / 100)
        cached_text = text_in // 2
        audio_out = int(out_ms / 50)
        return {
            "input_tokens": text_in + audio_in,
            "output_tokens": out_text + audio_out,
            "total_tokens": text_in + audio_in + out_text + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "cached_tokens": cached_text,
                "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": 0},
            },
            "output_token_details": {"text_tokens": out_text, "audio_tokens": audio_out},
        }

    async def _stream_calls(
        self, conn: _Conn, response_id: str, script: ResponseScript
    ) -> list[dict[str, Any]]:
        output = []
        for index, (name, arguments) in enumerate(script.function_calls):
            item_id, call_id = self._new_id("item"), self._new_id("call")
            item = {
                "id": item_id,
                "type": "function_call",
                "object": "realtime.item",
                "status": "in_progress",
                "call_id": call_id,
                "name": name,
                "arguments": "",
            }
            previous = conn.last_item
            conn.items[item_id] = _Item(item_id, "function_call", None)
            conn.last_item = item_id
            await self._emit(
                conn,
                {
                    "type": "response.output_item.added",
                    "response_id": response_id,
                    "output_index": index,
                    "item": item,
                },
            )
            await self._emit(
                conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
            )
            await self._emit(
                conn,
                {
                    "type": "response.function_call_arguments.delta",
                    "response_id": response_id,
                    "item_id": item_id,
                    "output_index": index,
                    "call_id": call_id,
                    "delta": arguments,
                },
            )
            await self._emit(
                conn,
                {
                    "type": "response.function_call_arguments.done",
                    "response_id": response_id,
                    "item_id": item_id,
                    "output_index": index,
                    "call_id": call_id,
                    "name": name,
                    "arguments": arguments,
                },
            )
            done = {**item, "status": "completed", "arguments": arguments}
            await self._emit(
                conn, {"type": "conversation.item.done", "previous_item_id": previous, "item": done}
            )
            await self._emit(
                conn,
                {
                    "type": "response.output_item.done",
                    "response_id": response_id,
                    "output_index": index,
                    "item": done,
                },
            )
            output.append(done)
        return output

    async def _stream_audio(
        self, conn: _Conn, response_id: str, script: ResponseScript, cancelled: asyncio.Event
    ) -> tuple[list[dict[str, Any]], float, int]:
        audio = script.audio if script.audio is not None else spoken_tone()
        item_id = self._new_id("item")
        item = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        previous = conn.last_item
        record = conn.items[item_id] = _Item(item_id, "message", "assistant")
        conn.last_item = item_id
        ids = {"response_id": response_id, "item_id": item_id, "output_index": 0}
        await self._emit(
            conn,
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            },
        )
        await self._emit(
            conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self._emit(
            conn,
            {
                "type": "response.content_part.added",
                **ids,
                "content_index": 0,
                "part": {"type": "audio", "transcript": ""},
            },
        )
        chunk_bytes = max(2, int(RATE * script.chunk_ms / 1000) * 2)
        chunks = [audio[i : i + chunk_bytes] for i in range(0, len(audio), chunk_bytes)] or [b""]
        words = script.transcript.split(" ")
        said = 0
        for index, chunk in enumerate(chunks):
            if cancelled.is_set():
                break
            await self._emit(
                conn,
                {
                    "type": "response.output_audio.delta",
                    **ids,
                    "content_index": 0,
                    "delta": base64.b64encode(chunk).decode("ascii"),
                },
            )
            record.audio_ms += len(chunk) / 2 / RATE * 1000
            upto = round(len(words) * (index + 1) / len(chunks))
            if upto > said:
                text = " ".join(words[said:upto]) + (" " if upto < len(words) else "")
                said = upto
                await self._emit(
                    conn,
                    {
                        "type": "response.output_audio_transcript.delta",
                        **ids,
                        "content_index": 0,
                        "delta": text,
                    },
                )
            if script.speed > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancelled.wait(), len(chunk) / 2 / RATE / script.speed)
        heard = " ".join(words[:said])
        if not cancelled.is_set():
            await self._emit(conn, {"type": "response.output_audio.done", **ids, "content_index": 0})
            await self._emit(
                conn,
                {
                    "type": "response.output_audio_transcript.done",
                    **ids,
                    "content_index": 0,
                    "transcript": script.transcript,
                },
            )
            await self._emit(
                conn,
                {
                    "type": "response.content_part.done",
                    **ids,
                    "content_index": 0,
                    "part": {"type": "audio", "transcript": script.transcript},
                },
            )
        status = "incomplete" if cancelled.is_set() else "completed"
        done = {
            **item,
            "status": status,
            "content": [
                {"type": "output_audio", "transcript": heard if cancelled.is_set() else script.transcript}
            ],
        }
        await self._emit(
            conn,
            {
                "type": "response.output_item.done",
                "response_id": response_id,
                "output_index": 0,
                "item": done,
            },
        )
        await self._emit(conn, {"type": "conversation.item.done", "previous_item_id": previous, "item": done})
        return [done], record.audio_ms, len(words)

    # ---------------------------------------------------------------------------------------- voice detection

    async def _detect_speech(self, conn: _Conn, pcm: bytes) -> None:
        """Energy detection in 20 ms frames; speech_started cancels a running response if asked to."""
        detection = conn.turn_detection or {}
        silence_needed = float(
            detection.get("silence_duration_ms", 500 if detection.get("type") == "semantic_vad" else 200)
        )
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
        for start in range(0, len(samples), FRAME):
            frame = samples[start : start + FRAME]
            frame_ms = len(frame) / RATE * 1000
            conn.appended_ms += frame_ms
            loud = bool(len(frame)) and float(np.sqrt(np.mean(frame**2))) > SPEECH_RMS
            conn.loud_frames = conn.loud_frames + 1 if loud and not conn.in_speech else 0
            if loud and not conn.in_speech and conn.loud_frames >= self.speech_frames:
                conn.in_speech, conn.silence_ms = True, 0.0
                conn.speech_item = self._new_id("item")
                onset_ms = conn.appended_ms - frame_ms * conn.loud_frames  # where the loud run began
                start_ms = max(0, int(onset_ms - detection.get("prefix_padding_ms", 300)))
                await self._emit(
                    conn,
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": start_ms,
                        "item_id": conn.speech_item,
                    },
                )
                if conn.active is not None and detection.get("interrupt_response", True):
                    await self._cancel(conn, "turn_detected")
            elif conn.in_speech and not loud:
                conn.silence_ms += frame_ms
                if conn.silence_ms >= silence_needed:
                    conn.in_speech = False
                    item_id = conn.speech_item or self._new_id("item")
                    await self._emit(
                        conn,
                        {
                            "type": "input_audio_buffer.speech_stopped",
                            "audio_end_ms": int(conn.appended_ms),
                            "item_id": item_id,
                        },
                    )
                    await self._commit(conn, item_id)
                    if detection.get("create_response", True) and conn.active is None:
                        self._start_response(conn)
            elif conn.in_speech:
                conn.silence_ms = 0.0


@pytest.fixture
def realtime_server() -> Iterator[RealtimeTestServer]:
    """A started reference server on 127.0.0.1 (function-scoped); stopped after the test."""
    server = RealtimeTestServer().start()
    try:
        yield server
    finally:
        server.stop()
