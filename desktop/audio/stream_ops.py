"""Stopping and closing audio streams off the loop, without ever waiting on them forever.

PortAudio's stop, abort and close can block in the driver: through ALSA's PulseAudio plugin an abort was seen to
never return (a busy or restarting audio server). Run in the loop's default executor, such a call also holds up
the loop's shutdown (asyncio waits for that executor), so the app could not even quit. Here each call runs on its
own daemon thread that nothing waits for at exit; the caller waits at most `timeout` seconds, then logs that the
device did not answer and goes on as if it had (the stream is abandoned; a later open makes a new one)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
STREAM_CALL_TIMEOUT_S = 3.0


async def call_off_loop(call: Callable[[], object], what: str, patience_s: float | None = None) -> bool:
    """Runs a blocking stream call on a daemon thread; True if it finished within `patience_s` (by default
    STREAM_CALL_TIMEOUT_S; its exceptions are raised here), False if the device did not answer (logged)."""
    patience = STREAM_CALL_TIMEOUT_S if patience_s is None else patience_s
    loop = asyncio.get_running_loop()
    done: asyncio.Future[BaseException | None] = loop.create_future()

    def settle(outcome: BaseException | None) -> None:
        if not done.done():
            done.set_result(outcome)

    def run() -> None:
        outcome: BaseException | None = None
        try:
            call()
        except BaseException as exc:  # handed to the caller on the loop
            outcome = exc
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop is gone: nobody waits for this any more
            pass

    threading.Thread(target=run, name=f"audio: {what}", daemon=True).start()
    try:
        outcome = await asyncio.wait_for(asyncio.shield(done), patience)
    except TimeoutError:
        log.warning("the audio device did not %s within %.1f s; going on without it", what, patience)
        return False
    if outcome is not None:
        raise outcome
    return True


def call_in_background(call: Callable[[], object], what: str) -> None:
    """Fire and forget (a lost device's stream): on a daemon thread, so a hung driver call holds nothing up."""
    def run() -> None:
        try:
            call()
        except Exception as exc:  # a dead device's errors mean nothing now
            log.debug("audio: %s failed: %s", what, exc)

    threading.Thread(target=run, name=f"audio: {what}", daemon=True).start()
