"""A Realtime client for the engine tests: sends events (checked against the `openai` models), records every
server event with its validation problems, and waits for events by type with timeouts (never by sleeping).

Speech comes from espeak-ng, resampled to the protocol's 24 kHz PCM16 with soxr.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import subprocess
import time
import wave
from functools import cache
from typing import Any

import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection, connect

from tests.support.event_validation import client_event_problems, server_event_problems

RATE = 24_000
CHUNK_BYTES = RATE * 2 // 10  # 100 ms
TURN_TIMEOUT = 30.0


@cache
def speech(text: str, words_per_minute: int = 150) -> bytes:
    """PCM16 24 kHz mono of `text` spoken by espeak-ng (American English)."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32)
    resampled = soxr.resample(samples / 32768.0, rate, RATE)
    return (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


class EngineClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.arrivals: list[float] = []  # monotonic time each event arrived
        self._cursors: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str) -> EngineClient:
        ws = await connect(url, max_size=16 * 1024 * 1024,
                           additional_headers={"Authorization": "Bearer offline"})
        client = cls(ws)
        await client.next("session.created")
        return client

    async def _read(self) -> None:
        async for raw in self.ws:
            event = json.loads(raw)
            async with self._changed:
                self.events.append(event)
                self.arrivals.append(time.monotonic())
                self.problems.extend(server_event_problems(event))
                self._changed.notify_all()

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    async def send(self, event: dict[str, Any], check: bool = True) -> str:
        event = {"event_id": f"evt_test_{next(self._ids)}", **event}
        if check:
            assert client_event_problems(event) == [], client_event_problems(event)
        await self.ws.send(json.dumps(event))
        return str(event["event_id"])

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def next(self, kind: str, timeout: float = TURN_TIMEOUT) -> dict[str, Any]:  # noqa: ASYNC109
        """The next event of this type not returned before."""
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            for index in range(self._cursors.get(kind, 0), len(self.events)):
                if self.events[index]["type"] == kind:
                    self._cursors[kind] = index + 1
                    found.append(self.events[index])
                    return True
            self._cursors[kind] = len(self.events)
            return False

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            raise AssertionError(f"no {kind} within {timeout} s; got {self.types()[-15:]}") from None
        return found[0]

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [event for event in self.events
                if event["type"] == kind and all(event.get(key) == value for key, value in match.items())]

    async def configure(self, **session: Any) -> dict[str, Any]:
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return await self.next("session.updated")

    async def push_to_talk(self, pcm: bytes) -> None:
        """Press, speak (appended as fast as the socket takes it), release, ask for the answer."""
        await self.send({"type": "input_audio_buffer.clear"})
        await self.next("input_audio_buffer.cleared")
        await self.append(pcm)
        await self.send({"type": "input_audio_buffer.commit"})
        await self.send({"type": "response.create"})

    async def append(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), CHUNK_BYTES):
            chunk = pcm[start : start + CHUNK_BYTES]
            await self.send({"type": "input_audio_buffer.append",
                             "audio": base64.b64encode(chunk).decode("ascii")}, check=False)

    async def say_text(self, text: str) -> None:
        await self.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        await self.send({"type": "response.create"})

    def reply_audio(self, response_id: str) -> bytes:
        return b"".join(base64.b64decode(event["delta"])
                        for event in self.of("response.output_audio.delta", response_id=response_id))


PUSH_TO_TALK = {"audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}}
