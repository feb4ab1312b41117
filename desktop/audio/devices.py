"""Finding audio devices: listing, choosing by name or index with a fallback notice, and rescanning.

PortAudio enumerates devices only when it initialises (python-sounddevice #125/#382/#516), so a device plugged
in later is invisible until `rescan()` re-initialises it; that invalidates open streams, which is why the
engine closes its streams before calling it and reopens them after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sounddevice

from desktop.audio.errors import AudioUnavailable

Kind = Literal["input", "output"]
MODEL_RATE = 24000


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool

    def supports(self, kind: Kind) -> bool:
        return (self.inputs if kind == "input" else self.outputs) > 0

    def label(self) -> str:
        return f"{self.index}: {self.name} ({self.hostapi})"


@dataclass(frozen=True)
class DeviceChoice:
    """The device to open (None = PortAudio's default) and, when the wanted one was not found, why not."""

    index: int | None
    name: str
    notice: str | None = None


def _default_indexes() -> tuple[int, int]:
    default = sounddevice.default.device
    pair = [default[0], default[1]]
    for slot, kind in enumerate(("input", "output")):
        if pair[slot] is None or pair[slot] < 0:
            try:
                pair[slot] = int(sounddevice.query_devices(kind=kind)["index"])
            except (sounddevice.PortAudioError, ValueError, TypeError):
                pair[slot] = -1
    return int(pair[0]), int(pair[1])


def list_devices(kind: Kind | None = None) -> list[DeviceInfo]:
    """Every device PortAudio sees (optionally only those with inputs or outputs); empty without a server."""
    hostapis: Any = sounddevice.query_hostapis()
    default_in, default_out = _default_indexes()
    found: list[DeviceInfo] = []
    for raw in sounddevice.query_devices():
        info = DeviceInfo(
            index=int(raw["index"]),
            name=str(raw["name"]),
            hostapi=str(hostapis[raw["hostapi"]]["name"]),
            inputs=int(raw["max_input_channels"]),
            outputs=int(raw["max_output_channels"]),
            default_rate=float(raw["default_samplerate"]),
            is_default_input=int(raw["index"]) == default_in,
            is_default_output=int(raw["index"]) == default_out,
        )
        if kind is None or info.supports(kind):
            found.append(info)
    return found


def describe_devices() -> str:
    """The text `--list-devices` prints: one line per device, defaults marked."""
    devices = list_devices()
    if not devices:
        return "No audio devices found (is an audio server such as PulseAudio or PipeWire running?)"
    lines = []
    for info in devices:
        marks = "".join(("<" if info.is_default_input else " ", ">" if info.is_default_output else " "))
        lines.append(
            f"{marks} {info.index:3d} {info.name} ({info.hostapi}) in={info.inputs} out={info.outputs} "
            f"{info.default_rate:.0f} Hz"
        )
    lines.append("(< default input, > default output)")
    return "\n".join(lines)


def choose_device(wanted: str | int | None, kind: Kind) -> DeviceChoice:
    """The wanted device by index or case-insensitive name substring, else the default with a notice.

    Raises AudioUnavailable when there is no device of this kind at all."""
    candidates = list_devices(kind)
    if not candidates:
        raise AudioUnavailable(
            f"No audio {kind} device is available. Check that an audio server is running and "
            "a device is connected, then use Rescan."
        )
    default = next(
        (d for d in candidates if (d.is_default_input if kind == "input" else d.is_default_output)),
        candidates[0],
    )
    if wanted is None or wanted == "":
        return DeviceChoice(None, default.name)
    match: DeviceInfo | None = None
    if isinstance(wanted, int) or str(wanted).strip().isdigit():
        index = int(wanted)
        match = next((d for d in candidates if d.index == index), None)
    else:
        needle = str(wanted).casefold()
        match = next((d for d in candidates if d.name.casefold() == needle), None) or next(
            (d for d in candidates if needle in d.name.casefold()), None
        )
    if match is not None:
        return DeviceChoice(match.index, match.name)
    return DeviceChoice(
        None,
        default.name,
        notice=f"The {kind} device '{wanted}' is not available; using the default ({default.name}).",
    )


def stream_rate(index: int | None, kind: Kind, preferred: int = MODEL_RATE) -> int:
    """`preferred` when the device accepts it, else the device's own default rate (the engine resamples)."""
    check = sounddevice.check_input_settings if kind == "input" else sounddevice.check_output_settings
    try:
        check(device=index, channels=1, dtype="float32", samplerate=preferred)
        return preferred
    except (sounddevice.PortAudioError, ValueError):
        pass
    try:
        return int(sounddevice.query_devices(index, kind=kind)["default_samplerate"])
    except (sounddevice.PortAudioError, ValueError) as exc:
        raise AudioUnavailable(unavailable_message(exc, kind)) from exc


def unavailable_message(exc: BaseException, kind: Kind) -> str:
    """A sentence for the user from a PortAudio error (which alone reads like 'Error querying device -1')."""
    return (
        f"Could not open the audio {kind} device ({exc}). Check that an audio server is running and a device "
        "is connected, then use Rescan."
    )


def rescan() -> None:
    """Re-initialises PortAudio so new devices appear; every open stream must be closed before calling
    this (terminating PortAudio under a running stream crashes its thread): any still open are closed first."""
    for stream in list(LIVE_STREAMS):
        close_quietly(stream)
    sounddevice._terminate()
    sounddevice._initialize()


# Every stream from open to close. A sounddevice stream that is garbage-collected while PortAudio still runs it
# frees the callback PortAudio is about to call (a segfault in the audio thread, seen in the test suite); held
# here, an unclosed stream can only leak, never crash.
LIVE_STREAMS: set[sounddevice.InputStream | sounddevice.OutputStream] = set()


async def open_off_loop(loop: asyncio.AbstractEventLoop, open_blocking: Callable[[], None]) -> None:
    """Runs a blocking stream open on a worker thread. If the caller is cancelled meanwhile (the app closing
    while audio comes up), the open still finishes before the cancellation goes on, so whoever cleans up finds
    the stream and closes it: an abandoned open would leave a running stream that nobody owns."""
    opening = loop.run_in_executor(None, open_blocking)
    try:
        await asyncio.shield(opening)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await opening
        raise


def keep_alive(stream: sounddevice.InputStream | sounddevice.OutputStream) -> None:
    LIVE_STREAMS.add(stream)


def close_quietly(stream: sounddevice.InputStream | sounddevice.OutputStream) -> None:
    """Aborting (not stopping) discards buffers at once; errors from an already-dead device mean nothing
    now."""
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except sounddevice.PortAudioError:
        pass
    finally:
        LIVE_STREAMS.discard(stream)
