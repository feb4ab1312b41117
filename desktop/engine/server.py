"""The WebSocket server: 127.0.0.1 only, the Realtime path, one RealtimeSession per connection.

Any API key is accepted (the engine is local and holds nothing secret); the path is checked so a client with a
wrong endpoint fails the way it would against the cloud. The loop only parses JSON and routes events; the
heavy work runs in the pipeline's threads.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from desktop.engine import REALTIME_PATH
from desktop.engine.pipeline import Pipeline
from desktop.engine.session import RealtimeSession

log = logging.getLogger(__name__)

PATHS = (REALTIME_PATH, "/openai/v1/realtime")
MAX_MESSAGE = 16 * 1024 * 1024


class EngineServer:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._server: Server | None = None
        self.sessions: set[RealtimeSession] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1]) if self._server.sockets else 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{REALTIME_PATH}"

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> EngineServer:
        self._server = await serve(self._handle, host, port, process_request=self._check_path,
                                   max_size=MAX_MESSAGE, ping_interval=20, ping_timeout=20)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not found: use {REALTIME_PATH}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        session = RealtimeSession(self.pipeline, ws.send)
        self.sessions.add(session)
        log.info("client connected from %s", ws.remote_address)
        try:
            await session.start()
            async for message in ws:
                await session.handle_text(message)
        except ConnectionClosed:
            pass
        finally:
            await session.close()
            self.sessions.discard(session)
            log.info("client disconnected")
