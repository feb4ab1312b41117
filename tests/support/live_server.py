"""A GPT-Live server for tests on 127.0.0.1 (`/v1/live/sessions`), behaving as ../shared/gpt-live.md describes.

Like the Realtime test server it runs in its own thread with its own loop and offers a thread-safe API. Every
client event is validated strictly against `openai.types.live` (undeclared keys, the required `delegation_id`),
every server event it sends too; anything sent before `session.started`, or after `session.start` twice, is a
violation. Tests script what the model does: `say()` streams a spoken answer (transcript and audio deltas,
faster than real time as the API does), `call_tool()` sends a Responses-delegation function call, `send()` any
raw event, `close_session(reason)` ends the session with `session.closed`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support.event_validation import live_client_event_problems, live_server_event_problems
from tests.support.realtime_server import TEST_KEY, spoken_tone

PATH = "/v1/live/sessions"
RATE = 24_000


class LiveTestServer:
    def __init__(self, *, require_key: bool = True) -> None:
        self.require_key = require_key
        self._received: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._violations: list[str] = []
        self._lock = threading.Lock()
        self._conns: list[_LiveConn] = []
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.port = 0
        self.connections = 0
        self.muted: bool = False  # the last mute state the client asked for
        self.close_delay_s = 0.0  # how long session.closed takes after session.close (finalising the session)

    # ------------------------------------------------------------------------------ thread-safe API

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"

    @property
    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._sent)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def received_types(self) -> list[str]:
        return [e["type"] for e in self.received]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout} s; received {self.received_types()[-20:]}")
            time.sleep(0.01)

    def wait_for(self, kind: str, timeout: float = 5.0, count: int = 1) -> dict[str, Any]:
        def found() -> bool:
            return sum(1 for e in self.received if e["type"] == kind) >= count

        self.wait_until(found, timeout)
        return [e for e in self.received if e["type"] == kind][count - 1]

    def received_audio(self) -> bytes:
        return b"".join(base64.b64decode(e["audio"]) for e in self.received
                        if e["type"] == "session.input_audio.append")

    def send(self, event: dict[str, Any]) -> concurrent.futures.Future[Any]:
        return self._call(self._broadcast(event))

    def say(self, text: str, seconds: float = 1.5, *, pace: float = 4.0,
            pcm: bytes | None = None) -> concurrent.futures.Future[Any]:
        """The model speaks `text`: its words arrive ahead of its audio, audio (`pcm`, else a speech-like tone of
        `seconds`) in 100 ms deltas at `pace` x real time."""
        return self._call(self._say(text, spoken_tone(seconds) if pcm is None else pcm, pace))

    def call_tool(self, name: str, arguments: dict[str, Any], call_id: str = "call_1",
                  response_id: str = "resp_1") -> concurrent.futures.Future[Any]:
        inner = {"type": "response.output_item.done", "response_id": response_id, "output_index": 0,
                 "item": {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
                          "arguments": json.dumps(arguments), "status": "completed"}}
        return self.send({"type": "response.event", "event_id": self._new_id(), "event": inner})

    def hear(self, text: str) -> concurrent.futures.Future[Any]:
        """The model transcribes the user: input transcript deltas, word by word."""
        async def run() -> None:
            for word in text.split():
                await self._broadcast({"type": "session.input_transcript.delta", "event_id": self._new_id(),
                                       "delta": word + " ", "start_ms": 0, "end_ms": 0})
        return self._call(run())

    def close_session(self, reason: str = "expired", code: int = 1000) -> concurrent.futures.Future[Any]:
        async def run() -> None:
            for conn in list(self._conns):
                await self._emit(conn, {"type": "session.closed", "event_id": self._new_id(), "reason": reason,
                                        "usage": {"seconds": conn.seconds()}, "session": conn.resource()})
                await conn.ws.close(code)
        return self._call(run())

    def start(self) -> LiveTestServer:
        self._thread = threading.Thread(target=self._thread_main, name="live-test-server", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("live test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    # ------------------------------------------------------------------------------ server side

    def _call(self, coro: Any) -> concurrent.futures.Future[Any]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._check_request,
                         max_size=2**24) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._started.set()
            await self._stop.wait()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != PATH:  # Live takes the model in session.start, never in the URL
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        auth = request.headers.get("Authorization", "")
        if self.require_key and auth != f"Bearer {TEST_KEY}":
            return Response(401, "Unauthorized", Headers([("Content-Length", "0")]), b"")
        return None

    def _new_id(self) -> str:
        return f"evt_{next(self._ids)}"

    async def _emit(self, conn: _LiveConn, event: dict[str, Any]) -> None:
        problems = live_server_event_problems(event)
        with self._lock:
            self._sent.append(event)
            self._violations.extend(f"server sent {p}" for p in problems)
        try:
            await conn.ws.send(json.dumps(event))
        except ConnectionClosed:
            pass

    async def _broadcast(self, event: dict[str, Any]) -> None:
        for conn in list(self._conns):
            if conn.started:
                await self._emit(conn, event)

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _LiveConn(ws)
        self._conns.append(conn)
        self.connections += 1
        try:
            async for raw in ws:
                event = json.loads(raw)
                problems = live_client_event_problems(event)
                if event.get("type") != "session.start" and not conn.started:
                    problems.append(f"{event.get('type')}: sent before session.started")
                if conn.closing:
                    problems.append(f"{event.get('type')}: sent after session.close")
                with self._lock:
                    self._received.append(event)
                    self._violations.extend(f"client sent {p}" for p in problems)
                await self._dispatch(conn, event)
        except ConnectionClosed:
            pass
        finally:
            self._conns.remove(conn)

    async def _dispatch(self, conn: _LiveConn, event: dict[str, Any]) -> None:
        kind = event["type"]
        ack: dict[str, Any] = {"event_id": self._new_id()}
        if event.get("event_id"):
            ack["client_event_id"] = event["event_id"]
        if kind == "session.start":
            if conn.started:
                with self._lock:
                    self._violations.append("client sent session.start twice")
                return
            conn.config = event["session"]
            conn.started = True
            conn.started_at = time.monotonic()
            await self._emit(conn, {"type": "session.started", **ack, "session": conn.resource()})
        elif kind == "session.input_audio.append":
            conn.audio_bytes += len(base64.b64decode(event["audio"]))
        elif kind in ("session.input_audio.mute", "session.input_audio.unmute"):
            self.muted = kind.endswith(".mute")
            await self._emit(conn, {"type": "session.input_audio.muted" if self.muted
                                    else "session.input_audio.unmuted", **ack})
        elif kind == "session.instructions.append":
            await self._emit(conn, {"type": "session.instructions.appended", **ack, "start_ms": 0, "end_ms": 0})
        elif kind == "session.close":
            conn.closing = True  # anything the client sends from now on is a violation: keep reading

            async def finalise() -> None:
                await asyncio.sleep(self.close_delay_s)
                await self._emit(conn, {"type": "session.closed", **ack, "reason": "close_requested",
                                        "usage": {"seconds": conn.seconds()}, "session": conn.resource()})
                await conn.ws.close()

            conn.finalising = asyncio.create_task(finalise())
        elif kind == "session.update":
            await self._emit(conn, {"type": "session.updated", **ack, "session": conn.resource()})

    async def _say(self, text: str, pcm: bytes, pace: float) -> None:
        for conn in list(self._conns):
            if not conn.started:
                continue
            for word in text.split():
                await self._emit(conn, {"type": "session.output_transcript.delta", "event_id": self._new_id(),
                                        "delta": word + " ", "start_ms": 0, "end_ms": 0})
            step = RATE // 10 * 2
            for offset in range(0, len(pcm), step):
                await self._emit(conn, {"type": "session.output_audio.delta",  # the API gives it no event_id
                                        "delta": base64.b64encode(pcm[offset:offset + step]).decode("ascii")})
                await asyncio.sleep(0.1 / pace)
            await self._emit(conn, {"type": "session.usage.updated", "event_id": self._new_id(),
                                    "usage": {"seconds": conn.seconds()}})


class _LiveConn:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.started = False
        self.closing = False
        self.finalising: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self.config: dict[str, Any] = {}
        self.audio_bytes = 0

    def seconds(self) -> float:
        return round(time.monotonic() - self.started_at, 3) if self.started else 0.0

    def resource(self) -> dict[str, Any]:
        resource = {"id": "sess_test", "model": self.config.get("model", "gpt-live-1.1"), "status": "active",
                    "expires_at": int(time.time()) + 3600}
        for key in ("instructions", "audio", "delegation", "input"):
            if key in self.config:
                resource[key] = self.config[key]
        return resource


def pcm_rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


@pytest.fixture
def live_server() -> Iterator[LiveTestServer]:
    server = LiveTestServer().start()
    try:
        yield server
    finally:
        server.stop()
