"""What both protocol sessions (Realtime: session.py, GPT-Live: live.py) share: the queues the driver drains after
every call — client events to send and effects for the app — and the few ways of filling them."""

from __future__ import annotations

import logging
from typing import Any

from desktop.core.config import SessionConfig
from desktop.core.conversation import Conversation, TranscriptEntry
from desktop.core.effects import Effect, ErrorRaised, StateChanged, TranscriptChanged
from desktop.core.errors import RealtimeError
from desktop.core.state import TurnState

log = logging.getLogger(__name__)


class Outbox:
    """Mixed into a session, whose __init__ sets these attributes."""

    _config: SessionConfig
    _state: TurnState
    _outgoing: list[dict[str, Any]]
    _effects: list[Effect]
    conversation: Conversation

    @property
    def state(self) -> TurnState:
        return self._state

    @property
    def config(self) -> SessionConfig:
        return self._config

    def take_outgoing(self) -> list[dict[str, Any]]:
        out, self._outgoing = self._outgoing, []
        return out

    def take_effects(self) -> list[Effect]:
        out, self._effects = self._effects, []
        return out

    def _set_state(self, state: TurnState) -> None:
        if state is not self._state:
            previous, self._state = self._state, state
            self._effects.append(StateChanged(state, previous))

    def _transcript(self, entry: TranscriptEntry) -> None:
        self.conversation.replace(entry)
        self._effects.append(TranscriptChanged(entry))

    def _error(self, error: RealtimeError) -> None:
        log.warning("%s error: %s", type(self).__name__, error)
        self._effects.append(ErrorRaised(error))
