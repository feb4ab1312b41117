"""The controller: owns the session with the model, the audio engine and the tools, and tells the window what
changed through Qt signals. Widgets never talk to the core or the audio engine directly.

Every interruption, whatever triggered it (Stop, the talk key or button, local voice detection, the server's
speech_started), ends in the session's one interrupt path, which calls back into `_silence` to stop the
speaker *before* reading how much was heard: audio already handed to the sound card is heard too, so the
truncation position is the player's final count, not the clock at the moment of the click.

Why one module of this size: it is the composition point of the running app — bringing audio, the connection and
the offline engine up and down in order, turning the session's effects into signals, and the user's actions into
session calls. What has a life of its own lives elsewhere and is only wired here: the microphone's routing
(mic_router), tools and MCP (tools_service), timers (timer_alerts), the desktop (desktop_bridge), wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop.app.backend import Backend, choose_backend
from desktop.app.desktop_bridge import app_registry
from desktop.app.mic_router import MicRouter
from desktop.app.options import Options
from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore
from desktop.app.timer_alerts import TimerAlerts
from desktop.app.tools_service import ToolsService
from desktop.app.wording import LINK_STATES, error_advice

if TYPE_CHECKING:  # the collaborators load lazily (audio, the engine and the tools are optional or slow)
    from desktop.audio.capture import CaptureStatus
    from desktop.audio.engine import AudioEngine
    from desktop.audio.playback import PlaybackEvent
    from desktop.audio.standby import Standby
    from desktop.core.config import SessionConfig
    from desktop.core.driver import RealtimeDriver
    from desktop.core.effects import Effect
    from desktop.engine.launcher import EngineProcess

log = logging.getLogger(__name__)

@dataclass
class InterruptRecord:
    """One barge-in, for the status line, the tests and the benchmark."""

    trigger: str  # "stop", "talk", "local_vad", "server_vad"
    at: float  # time.monotonic() of the trigger
    item_id: str | None
    played_samples: int | None


class Controller(QObject):
    status_changed = Signal(str)  # "starting", "ready", "stopped": for the bootstrap and tests
    connection_changed = Signal(str, str)  # state, detail for the status line
    endpoint_changed = Signal(str, str)  # where, in words (Backend.title); its URL, for the tooltip and Settings
    turn_state_changed = Signal(str)
    transcript_updated = Signal(str, str, str, bool)  # item_id, role, text, done
    transcript_truncated = Signal(str, str, str)  # item_id, heard, unheard
    tool_call = Signal(str, str, str, object)  # call_id, name, arguments, output (None while running)
    notice = Signal(str)
    cost_changed = Signal(str, str, object)  # meter ("$0.012", "Free", "1,234 tokens"), detail, US$ or None
    link_changed = Signal(object)  # desktop.core.link.LinkStatus: the link bar's countdown and Retry now
    error = Signal(str, str)  # message, what to do
    mic_samples = Signal(object)  # int16 numpy arrays at 24 kHz
    assistant_samples = Signal(object)
    talk_availability = Signal(bool, str)
    mode_changed = Signal(str)
    interrupted = Signal(object)  # InterruptRecord

    def __init__(self, options: Options, settings: SettingsStore | None = None, keys: KeyStore | None = None,
                 *, audio: bool = True) -> None:
        super().__init__()
        self.options = options
        self.settings = settings if settings is not None else SettingsStore()
        self.keys = keys if keys is not None else KeyStore()
        self.use_audio = audio
        self.backend: Backend | None = None
        self.driver: RealtimeDriver | None = None  # once connected
        self.audio: AudioEngine | None = None  # once opened
        self.engine: EngineProcess | None = None  # when the offline engine is the backend
        self.interrupts: list[InterruptRecord] = []
        self.turn_state = "connecting"
        self._mode = "server_vad" if options.hands_free else str(self.settings.get("turn_mode"))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unlisten: list[Callable[[], None]] = []
        self._talk_held = False
        self._pending_trigger: str | None = None
        self._standby: Standby | None = None  # once audio is open
        self.mic = MicRouter(self)
        self._pump: asyncio.Task[Any] | None = None  # hands microphone chunks on (MicRouter.pump)
        self.timers = TimerAlerts(lambda: self.audio.playback if self.audio is not None else None, parent=self)
        self.tools = ToolsService(Path(self.settings.file_name()).parent, registry=app_registry(self.timers.book),
                                  mcp_config=options.mcp_config, parent=self)
        self.tools.tools_changed.connect(self._update_session)
        self.tools.call_finished.connect(self.tool_call)
        self._ready = asyncio.Event()
        self._closed = False

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Returns at once; the connection and audio come up in the background and report through signals."""
        self.status_changed.emit("starting")
        self.spawn(self._bring_up())
        self.spawn(self.timers.run())

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """For tests and the self-test: until the first connection attempt has finished (either way)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _bring_up(self) -> None:
        try:
            await self.tools.start()
            await self._open_audio()
            await self._connect()
        finally:
            self._ready.set()
            self.status_changed.emit("ready")

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background task failed: %s", exc, exc_info=exc)
            self.error.emit(f"Internal error: {type(exc).__name__}", "Parley keeps running; see the log file.")

    async def aclose(self) -> None:
        """Closes the socket, the audio streams and the engine, and waits for every task it started."""
        self._closed = True
        for unlisten in self._unlisten:
            with contextlib.suppress(ValueError):
                unlisten()
        self._unlisten.clear()
        if self._standby is not None:
            self._standby.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        steps = [("connection", self.driver.close if self.driver is not None else None),
                 ("audio", self.audio.close if self.audio is not None else None),
                 ("offline engine", self.engine.stop if self.engine is not None else None),
                 ("tools", self.tools.aclose)]
        for name, close in steps:  # each one even if another failed: streams and processes must not outlive us
            if close is None:
                continue
            try:
                await close()
            except Exception:
                log.exception("closing the %s failed", name)
        self.mic.close()
        self.status_changed.emit("stopped")

    # ------------------------------------------------------------------------------------------ audio

    async def _open_audio(self) -> None:
        if not self.use_audio:
            self.talk_availability.emit(False, "Audio is off.")
            return
        try:
            from desktop.audio.capture import CaptureConfig
            from desktop.audio.echo_canceller import attach_canceller
            from desktop.audio.echo_guard import EchoGuard, EchoGuardConfig
            from desktop.audio.engine import AudioEngine
            from desktop.audio.errors import AudioUnavailable
            from desktop.audio.playback import PlaybackConfig
            from desktop.audio.standby import Standby
        except OSError as exc:  # PortAudio missing
            self._audio_problem(f"The audio library could not load: {exc}", "Install libportaudio2, then restart.")
            return
        s = self.settings
        input_device, output_device = self._wanted_devices()
        capture = CaptureConfig(device=input_device, preroll_ms=float(s.get("preroll_ms")))
        playback = PlaybackConfig(device=output_device, prebuffer_ms=float(s.get("jitter_ms")))
        engine = AudioEngine(capture, playback)
        try:
            await engine.open()
        except AudioUnavailable as exc:
            self._audio_problem(str(exc), "Connect a microphone and speaker, then Settings → Audio → Rescan. "
                                "You can still type.")
            return
        self.audio = engine
        log.info("audio: input %r, output %r", engine.capture.device_name, engine.playback.device_name)
        for notice in engine.notices:
            self.notice.emit(notice)
        self.mic.guard = guard = EchoGuard(EchoGuardConfig(enabled=not bool(s.get("headphones"))))
        self._unlisten += [
            engine.playback.add_pcm_listener(self.assistant_samples.emit),
            engine.playback.add_level_listener(lambda lv: guard.note_playback(lv.time, lv.rms)),
            engine.playback.add_event_listener(self._on_playback_event),
            engine.capture.add_status_listener(self._on_capture_status), attach_canceller(engine, guard)]
        self.talk_availability.emit(True, "")
        self._pump = self.spawn(self.mic.pump(engine))
        self._standby = Standby(engine, float(s.get("audio_rest_s")), self._mic_needed)
        self._standby.activity()

    def _mic_needed(self) -> bool:
        """Hands-free listens all the time; push-to-talk needs the mic only around a turn (the next press wakes
        it, and the window coming to the front wakes it early so the pre-roll is there)."""
        return self.hands_free or self._talk_held or self.turn_state in ("listening", "thinking", "speaking")

    def wake_audio(self) -> None:
        """The user may talk soon (the window came to the front): restart a resting microphone now."""
        if self._standby is not None:
            self._standby.wake_mic()

    def rescan_audio(self) -> None:
        """Settings → Rescan: re-read the devices (a headset plugged in since start appears) and reopen the
        chosen ones; with no audio at start, try again from scratch."""
        self.spawn(self._reopen_audio(rescan=True))

    def _wanted_devices(self) -> tuple[str | int | None, str | int | None]:
        s = self.settings
        return (_device(self.options.input_device or s.get("input_device")),
                _device(self.options.output_device or s.get("output_device")))

    async def _reopen_audio(self, rescan: bool) -> None:
        from desktop.audio.devices import rescan as rescan_devices
        from desktop.audio.errors import AudioUnavailable

        if self.audio is None:
            if rescan:
                rescan_devices()
            await self._open_audio()
            return
        try:
            for notice in await self.audio.reopen(*self._wanted_devices(), rescan_devices=rescan):
                self.notice.emit(notice)
        except AudioUnavailable as exc:
            self._audio_problem(str(exc), "Connect a microphone and speaker, then Rescan again.")
            return
        if self._pump is None or self._pump.done():  # closing the old stream ended the pump's tap
            self._pump = self.spawn(self.mic.pump(self.audio))
        if self._standby is not None:
            self._standby.activity()
        self.talk_availability.emit(True, "")

    def _audio_problem(self, message: str, advice: str) -> None:
        log.warning("audio unavailable: %s", message)
        self.talk_availability.emit(False, message)
        self.error.emit(message, advice)

    def _on_capture_status(self, status: CaptureStatus) -> None:
        if status.state.value in ("silent_input", "no_audio", "lost") and status.message:
            self.error.emit(status.message, "Check the microphone, or pick another in Settings → Audio.")

    def _on_playback_event(self, event: PlaybackEvent) -> None:
        if event.kind == "drained" and event.item_id and self.driver is not None:
            self.driver.playback_finished(event.item_id)
        elif event.kind == "lost":
            self.error.emit(event.message, "Choose another output device in Settings → Audio.")

    # ------------------------------------------------------------------------------------------ connection

    def _session_config(self) -> SessionConfig:
        from desktop.core.config import SessionConfig, TurnMode

        s = self.settings
        return SessionConfig(
            instructions=str(s.get("instructions")),
            voice=str(s.get("voice")),
            model=str(s.get("model")),
            transcription_model=str(s.get("transcription_model")) or None,
            noise_reduction=str(s.get("noise_reduction")) or None,
            turn_mode=TurnMode(self._mode),
            threshold=float(s.get("vad_threshold")),
            prefix_padding_ms=int(s.get("vad_prefix_padding_ms")),
            silence_duration_ms=int(s.get("vad_silence_ms")),
            eagerness=str(s.get("semantic_eagerness")),
            tools=tuple(self.tools.schemas()),
        )

    async def _connect(self) -> None:
        from desktop.core.config import AuthStyle, ConnectionConfig
        from desktop.core.driver import RealtimeDriver
        from desktop.core.errors import RealtimeError
        from desktop.core.models import pricing

        settings = dict(self.settings.items())
        self.backend = backend = choose_backend(settings, await self.keys.aload(), self.options.url)
        self.connection_changed.emit("connecting", "Connecting…")
        url = backend.url
        if backend.kind == "offline":
            url = await self._start_engine()
            if url is None:
                return
        if backend.kind == "openai" and not backend.key:
            self.connection_changed.emit("error", "No API key")
            self.error.emit("Parley needs an OpenAI API key to talk to OpenAI.", backend.notice)
            return
        if backend.notice:
            self.notice.emit(backend.notice)
        self.endpoint_changed.emit(backend.title, url)
        log.info("connecting to %s (%s backend)", url, backend.kind)
        connection = ConnectionConfig(api_key=backend.key, model=str(settings["model"]), url=url,
                                      auth_style=AuthStyle(backend.auth_style), protocol=backend.protocol)
        self.driver = RealtimeDriver(
            connection,
            self._session_config(),
            on_effect=self._on_effect,
            function_handler=self.tools.run,
            played_samples=self._played_samples,
            stop_playback=self._silence,
            retry_first=True, pricing=pricing(backend.kind),
        )
        self.mic.prepare_detector()
        try:
            await self.driver.connect()
        except RealtimeError as exc:
            log.warning("connection failed: %s", exc)
            self.driver = None  # the failure was already shown through the ErrorRaised effect

    async def _start_engine(self) -> str | None:
        try:
            from desktop.engine.launcher import EngineUnavailable, start_engine
        except ImportError as exc:
            self._engine_problem(f"The offline engine is not part of this installation ({exc.name}).")
            return None
        self.connection_changed.emit("connecting", "Starting the offline engine…")
        try:
            self.engine = await start_engine()
        except EngineUnavailable as exc:
            log.warning("offline engine unavailable: %s", exc)
            self._engine_problem(str(exc))
            return None
        log.info("offline engine ready at %s", self.engine.url)
        return str(self.engine.url)

    def _engine_problem(self, message: str) -> None:
        self.connection_changed.emit("error", "Offline engine unavailable")
        self.error.emit(message, "Add an OpenAI API key in Settings → Connection, or install the offline "
                        "extra: pip install 'parley[offline]'.")

    async def apply_settings(self) -> None:
        """After the settings dialog: reconnect when where or how to connect changed, else update live."""
        if self.driver is not None:
            await self.driver.close()
            self.driver = None
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        if self.mic.guard is not None:
            self.mic.guard.set_enabled(not bool(self.settings.get("headphones")))
        if self._standby is not None:
            self._standby.rest_after_s = float(self.settings.get("audio_rest_s"))
            self._standby.wake_mic()
        if self.audio is not None and self._wanted_devices() != (self.audio.capture.config.device,
                                                                 self.audio.playback.config.device):
            await self._reopen_audio(rescan=False)  # another microphone or speaker was chosen
        self._mode = str(self.settings.get("turn_mode"))
        self.mode_changed.emit(self._mode)
        await self._connect()

    # ------------------------------------------------------------------------------------------ effects

    def _on_effect(self, effect: Effect) -> None:
        from desktop.core import effects as fx

        match effect:
            case fx.StateChanged(state=state):
                self._on_state(str(state))
            case fx.PlayAudio(item_id=item_id, pcm=pcm):
                if self.audio is not None:
                    self.audio.playback.feed(item_id, pcm)
            case fx.AudioFinished(item_id=item_id):
                if self.audio is not None:
                    self.audio.playback.finish(item_id)
                elif self.driver is not None:
                    self.driver.playback_finished(item_id)
            case fx.StopPlayback(item_id=item_id):
                if self.audio is not None and not self.audio.playback.is_drained(item_id):
                    self.audio.playback.stop()
            case fx.TranscriptChanged(entry=entry):
                if entry.interrupted:
                    self.transcript_truncated.emit(entry.item_id, entry.heard_text, entry.unheard_text)
                else:
                    self.transcript_updated.emit(entry.item_id, entry.role, entry.text, entry.done)
            case fx.UsageChanged(meter=meter, detail=detail, cost_usd=cost):
                self.cost_changed.emit(meter, detail, cost)
            case fx.LinkChanged(status=status):
                self.link_changed.emit(status)
            case fx.Notice(text=text):
                self.notice.emit(text)
            case fx.ErrorRaised(error=err) if not err.retryable:  # link faults: the link bar shows them
                self.error.emit(str(err), error_advice(err))
            case fx.FunctionCallRequested(call_id=call_id, name=name, arguments=arguments):
                self.tool_call.emit(call_id, name, arguments, None)
            case fx.FunctionCallsAbandoned(call_ids=call_ids):
                self.tools.cancel(call_ids)
            case _:
                pass

    def _on_state(self, state: str) -> None:
        previous, self.turn_state = self.turn_state, state
        log.debug("turn state %s -> %s", previous, state)
        if self._standby is not None:
            self._standby.activity()
        if state in LINK_STATES:
            self.connection_changed.emit(state, LINK_STATES[state])
        elif previous in LINK_STATES:
            self.connection_changed.emit("connected", self.backend.title if self.backend else "Connected")
        self.turn_state_changed.emit(state)


    # ------------------------------------------------------------------------------------------ the clock

    def _played_samples(self, item_id: str) -> int:
        if self.audio is None:
            return 1 << 62  # no speaker: everything counts as played at once
        return int(self.audio.playback.played_samples(item_id))

    def _silence(self, item_id: str) -> int:
        """Called by the session inside its interrupt: silence now, then report the final heard position."""
        trigger, self._pending_trigger = self._pending_trigger or "server_vad", None
        started = time.monotonic()
        played: int | None = None
        if self.audio is not None:
            result = self.audio.playback.stop()
            played = result.played_samples if result.item_id == item_id else self._played_samples(item_id)
        record = InterruptRecord(trigger, started, item_id, played)
        self.interrupts.append(record)
        self.interrupted.emit(record)
        log.info("interrupted by %s: item %s heard %s samples", trigger, item_id, played)
        return played if played is not None else self._played_samples(item_id)

    # ------------------------------------------------------------------------------------------ user actions

    @property
    def hands_free(self) -> bool:
        return self._mode != "push_to_talk"

    def turn_mode(self) -> str:
        return self._mode

    @property
    def talk_held(self) -> bool:
        return self._talk_held

    def barge_in(self, trigger: str) -> bool:
        """Local triggers (local voice detection, the talk key while hands-free): stop the reply now.
        True when something was interrupted."""
        if self.driver is None:
            return False
        self._pending_trigger = trigger
        try:
            return bool(self.driver.interrupt())
        finally:
            self._pending_trigger = None

    def press_talk(self) -> None:
        self._talk_held = True
        self.wake_audio()
        if self.driver is None:
            return
        self._pending_trigger = "talk"
        self.driver.press()
        self._pending_trigger = None
        self.mic.send_press_preroll()

    def release_talk(self) -> None:
        self._talk_held = False
        if self.driver is not None:
            self.driver.release()

    def retry_now(self) -> None:
        if self.driver is not None:
            self.driver.retry_now()

    def stop_reply(self) -> None:
        if self.driver is None:
            return
        self._pending_trigger = "stop"
        self.driver.stop()
        self._pending_trigger = None

    def send_text(self, text: str) -> None:
        if self.driver is None:
            self.error.emit("Not connected.", "Check the connection status at the top of the window.")
            return
        self._pending_trigger = "talk"
        self.driver.send_text(text)
        self._pending_trigger = None

    def set_turn_mode(self, mode: str) -> None:
        """Takes effect live: the session sends a session.update; local detection starts or stops."""
        if mode == self._mode:
            return
        self._mode = mode
        self.settings.set("turn_mode", mode)
        self.wake_audio()
        self._update_session()
        self.mic.prepare_detector()
        self.mode_changed.emit(mode)

    def _update_session(self) -> None:  # a live session.update (turn mode, offered tools)
        if self.driver is not None:
            self.driver.set_config(self._session_config())


def _device(value: object) -> str | int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else text

