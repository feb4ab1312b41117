"""Where the API key lives: the OS keyring, the OPENAI_API_KEY variable, or (when no keyring works) memory only.

The key never goes through QSettings, the log or an exception message. Keyring failures are turned into a
`KeyStoreUnavailable` carrying a sentence a user can act on, because keyring's own messages ("Prompt dismissed")
do not say what to do.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

import keyring
import keyring.errors

SERVICE = "parley"
USERNAME = "api-key"
ENV_VAR = "OPENAI_API_KEY"

log = logging.getLogger(__name__)


KEYRING_SILENT = ("The system keyring did not give Parley the API key ({}): it may be locked, or its service "
                  "stopped. Unlock it, then open Settings and choose OK to connect again.")


class KeyStoreUnavailable(Exception):
    """No usable keyring backend; the message says why and what the user can do."""


@dataclass(frozen=True)
class KeySource:
    """Where the active key came from, for the settings dialog ("set by OPENAI_API_KEY" etc.)."""

    key: str | None
    origin: str  # "environment", "keyring", "session", "none", or "unavailable" (the keyring did not answer)
    problem: str = ""  # for "unavailable": a sentence saying what happened and what to do


def backend_name() -> str:
    """Names the keyring backend in use, raising KeyStoreUnavailable when it is the 'fail' placeholder."""
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if "fail" in type(backend).__module__ or "null" in type(backend).__module__:
        raise KeyStoreUnavailable(
            "No keyring backend is available (no Secret Service, Keychain or Credential Manager found). "
            "Start a keyring daemon such as gnome-keyring, or use the key for this session only."
        )
    return name


def _explain(exc: Exception) -> KeyStoreUnavailable:
    return KeyStoreUnavailable(
        f"The system keyring refused the request ({type(exc).__name__}). Unlock or start your keyring "
        "(e.g. gnome-keyring or KWallet), or use the key for this session only."
    )


class KeyStore:
    """Reads and writes the API key; remembers a session-only key when the user chose not to (or cannot) save."""

    def __init__(self) -> None:
        self._session_key: str | None = None

    def load(self) -> KeySource:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            return KeySource(env, "environment")
        if self._session_key:
            return KeySource(self._session_key, "session")
        try:
            stored = keyring.get_password(SERVICE, USERNAME)
        except keyring.errors.NoKeyringError:  # no keyring on this machine: nothing can have been saved there
            return KeySource(None, "none")
        except Exception as exc:  # not only KeyringError: a Secret Service whose bus drops mid-call raises OSError
            log.warning("keyring unavailable while reading the API key: %s", type(exc).__name__)
            return KeySource(None, "unavailable", KEYRING_SILENT.format(type(exc).__name__))
        return KeySource(stored, "keyring") if stored else KeySource(None, "none")

    async def aload(self) -> KeySource:
        """`load()` off the event loop: a Secret Service may wait on an unlock prompt for as long as the user
        takes (28 s were seen), and the window must keep drawing meanwhile."""
        return await asyncio.to_thread(self.load)

    def save(self, key: str) -> None:
        """Stores the key in the keyring; raises KeyStoreUnavailable (with advice) if that cannot be done."""
        key = key.strip()
        if not key:
            raise ValueError("The API key is empty.")
        try:
            backend_name()
            keyring.set_password(SERVICE, USERNAME, key)
        except keyring.errors.KeyringError as exc:
            raise _explain(exc) from None
        self._session_key = None
        log.info("API key stored in the keyring")

    def use_for_session(self, key: str) -> None:
        """Keeps the key in memory only: it is gone when Parley quits."""
        self._session_key = key.strip() or None
        log.info("API key kept for this session only")

    def delete(self) -> None:
        self._session_key = None
        try:
            keyring.delete_password(SERVICE, USERNAME)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise _explain(exc) from None
