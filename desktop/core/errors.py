"""Typed errors of the Realtime core: one class per thing the app must react to differently.

The app decides from the class alone whether to retry (dropped link, session expired, rate limited) or to stop
and ask the user (bad key, bad URL or model). No message here ever contains the API key: they are built from
status codes, close codes and server texts only.
"""

from __future__ import annotations

from dataclasses import dataclass


class RealtimeError(Exception):
    """Base of every error the core reports."""

    #: Whether reconnecting could help. Auth and not-found errors must never be retried in a loop.
    retryable: bool = False


class InsecureUrlError(RealtimeError):
    """Plain ws:// to a host other than loopback, or a scheme that is not ws/wss."""


class ConnectFailedError(RealtimeError):
    """Refused connection, DNS failure, TLS failure or timeout before the handshake finished."""

    retryable = True

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        #: The server could not be reached at all (refused, no route, DNS): a TCP probe notices its return.
        self.unreachable = unreachable


class HandshakeError(RealtimeError):
    """The server answered the WebSocket upgrade with an HTTP status instead of 101."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AuthError(HandshakeError):
    """HTTP 401/403: the key is wrong, revoked or lacks access. Retrying with the same key cannot help."""


class NotFoundError(HandshakeError):
    """HTTP 404: wrong URL, wrong model or wrong Azure deployment name."""


class BadRequestError(HandshakeError):
    """HTTP 400 (e.g. an unknown model): the server's reason is in the message. Retrying cannot help."""


class ServerUnavailableError(HandshakeError):
    """HTTP 5xx at the handshake: the server is overloaded or down for a moment."""

    retryable = True


class RateLimitedError(HandshakeError):
    """HTTP 429 at the handshake: quota or concurrent-session limit."""

    retryable = True

    def __init__(self, status: int, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(status, message)
        self.retry_after_s = retry_after_s


class ConnectionClosedError(RealtimeError):
    """The server (or the network) closed the WebSocket while the session was running."""

    retryable = True

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed by server (code {code}){': ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


class ConnectionDroppedError(ConnectionClosedError):
    """The link died without a closing handshake: the network went away, the server crashed or stopped answering."""

    def __init__(self, message: str) -> None:
        RealtimeError.__init__(self, message)
        self.code = None
        self.reason = message


class SessionExpiredError(ConnectionClosedError):
    """Close code 1001: the session reached its maximum duration; a new connection starts a new session."""


class SendQueueFullError(RealtimeError):
    """The outgoing queue stayed full: the link is stalled. Dropping audio silently would corrupt the turn."""

    retryable = True


class SessionUpdateError(RealtimeError):
    """A session.update was rejected (an `error` event) or not confirmed by `session.updated` in time."""


@dataclass(frozen=True)
class ServerErrorInfo:
    """The fields of a server `error` event, with the type of the client event that caused it (if known)."""

    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None
    error_type: str | None = None
    caused_by: str | None = None


class ServerError(RealtimeError):
    """An `error` event. The session stays open; the UI shows it and the log keeps it."""

    def __init__(self, info: ServerErrorInfo) -> None:
        cause = f" (after {info.caused_by})" if info.caused_by else ""
        super().__init__(f"{info.code or 'error'}: {info.message}{cause}")
        self.info = info

    @property
    def code(self) -> str | None:
        return self.info.code
