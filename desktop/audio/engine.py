"""The audio engine: one capture and one playback, opened together, re-opened around a device rescan.

The app layer owns one engine, bridges its listeners to Qt, and shows `notices` (a wanted device that was not
found) and AudioUnavailable reasons to the user. Qt-free and core-free on purpose."""

from __future__ import annotations

from dataclasses import replace

from desktop.audio.capture import Capture, CaptureConfig
from desktop.audio.devices import rescan
from desktop.audio.playback import Playback, PlaybackConfig


class AudioEngine:
    def __init__(self, capture: CaptureConfig | None = None, playback: PlaybackConfig | None = None) -> None:
        self.capture = Capture(capture)
        self.playback = Playback(playback)

    @property
    def notices(self) -> list[str]:
        return [n for n in (self.capture.device_notice, self.playback.device_notice) if n]

    async def open(self) -> None:
        """Opens output then input; raises AudioUnavailable (from whichever failed) and leaves both closed, as it
        does when cancelled."""
        try:
            await self.playback.open()
            await self.capture.open()
        except BaseException:  # a failure, or the app closing meanwhile: no stream may outlive this
            await self.close()
            raise

    async def close(self) -> None:
        await self.capture.close()
        await self.playback.close()

    async def rescan(self) -> list[str]:
        """Closes both streams, re-initialises PortAudio so new devices appear, reopens; returns notices."""
        return await self.reopen(self.capture.config.device, self.playback.config.device, rescan_devices=True)

    async def use_devices(self, input_device: str | int | None, output_device: str | int | None) -> list[str]:
        """Switches devices (by name substring or index); a missing one falls back to the default with a
        notice."""
        return await self.reopen(input_device, output_device)

    async def reopen(self, input_device: str | int | None, output_device: str | int | None,
                     rescan_devices: bool = False) -> list[str]:
        """Closes both streams, optionally re-initialises PortAudio (devices plugged in since appear), opens the
        given devices; returns notices. Raises AudioUnavailable as open() does."""
        await self.close()
        if rescan_devices:
            rescan()
        self.capture.config = replace(self.capture.config, device=input_device)
        self.playback.config = replace(self.playback.config, device=output_device)
        await self.open()
        return self.notices
