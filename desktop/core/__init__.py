"""The Realtime core: protocol client and conversation state machine, free of Qt and audio devices.

The app layer builds a `RealtimeDriver`, subscribes to effects, feeds microphone PCM and played-sample counts,
and calls press/release/interrupt/stop/send_text/set_config.
"""

from desktop.core.config import AuthStyle, ConnectionConfig, SessionConfig, TurnMode
from desktop.core.driver import FunctionHandler, RealtimeDriver
from desktop.core.session import Session
from desktop.core.state import TurnState

__all__ = [
    "AuthStyle",
    "ConnectionConfig",
    "FunctionHandler",
    "RealtimeDriver",
    "Session",
    "SessionConfig",
    "TurnMode",
    "TurnState",
]
