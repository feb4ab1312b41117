"""The turn states the UI shows. Transitions are decided in session.py; this holds the vocabulary."""

from __future__ import annotations

from enum import StrEnum


class TurnState(StrEnum):
    CONNECTING = "connecting"  # socket opening, or waiting for session.created
    IDLE = "idle"  # connected, nobody talking
    LISTENING = "listening"  # push-to-talk held, or the server heard speech (hands-free)
    THINKING = "thinking"  # turn committed, waiting for the answer's first audio
    SPEAKING = "speaking"  # answer audio arriving or still playing
    RECONNECTING = "reconnecting"  # link lost, a new connection is being made
    ERROR = "error"  # stopped: needs the user (bad key, bad URL, ...)
