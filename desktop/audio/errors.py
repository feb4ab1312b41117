"""Typed audio failures with messages written for the user, so the app layer can show them as they are."""

from __future__ import annotations


class AudioUnavailable(Exception):
    """No usable audio device or server: talking is disabled until a device appears (Rescan)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return self.reason


class DeviceLost(Exception):
    """A stream that was running stopped on its own (the device or the audio server went away)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
