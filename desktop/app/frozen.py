"""What a PyInstaller bundle needs that a source checkout gets for free.

Three things break when Parley is frozen, and each is settled here rather than in the modules that use them:
- keyring finds its backends through package entry points; a bundle without the distribution metadata finds
  none and silently falls back to the 'fail' backend (keyring#324, pyinstaller#7053).
  `ensure_keyring_backend()` imports the platform's backend module by name when discovery came up empty, so
  keyring's own priority logic sees it.
- On Linux the bundle uses the system's PortAudio (bundling it would also drag in libasound and libjack, whose
  plugins must match the system's). Without libportaudio2 `import sounddevice` fails with a message that does
  not say what to install; `portaudio_problem()` says it up front.
- The self-test must prove the bundled keyring can really store a secret, not just name a backend:
  `keyring_roundtrip()` writes, reads back and deletes a throwaway entry when PARLEY_SELFTEST_KEYRING=1.

Nothing here imports Qt, so `prepare()` costs almost nothing before the window appears.
"""

from __future__ import annotations

import ctypes.util
import importlib
import logging
import os
import secrets
import sys
from importlib import metadata

log = logging.getLogger(__name__)

SELFTEST_KEYRING_ENV = "PARLEY_SELFTEST_KEYRING"
SELFTEST_SERVICE = "parley-selftest"
SELFTEST_USERNAME = "roundtrip"

# The backend module keyring would have found through its entry points, per platform.
PLATFORM_BACKENDS: dict[str, tuple[str, ...]] = {
    "linux": ("keyring.backends.SecretService", "keyring.backends.kwallet", "keyring.backends.libsecret"),
    "darwin": ("keyring.backends.macOS",),
    "win32": ("keyring.backends.Windows",),
}

PORTAUDIO_HINT = (
    "PortAudio (the audio library Parley records and plays through) is not installed. "
    "Install it with `sudo apt install libportaudio2` (Debian/Ubuntu), `sudo dnf install portaudio` (Fedora) "
    "or `sudo pacman -S portaudio` (Arch), then start Parley again."
)


def is_frozen() -> bool:
    """True inside a PyInstaller bundle (it sets sys.frozen and unpacks to sys._MEIPASS)."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def portaudio_problem() -> str | None:
    """Returns advice when the Linux system PortAudio is missing; None when it is there (or not a Linux
    concern: the macOS and Windows wheels of sounddevice carry their own PortAudio)."""
    if not sys.platform.startswith("linux"):
        return None
    if ctypes.util.find_library("portaudio") is not None:
        return None
    return PORTAUDIO_HINT


def keyring_discovery_found_backends() -> bool:
    """Whether keyring's entry-point discovery can see any backend module (it cannot in a bundle without the
    keyring distribution's metadata)."""
    return any(True for _ in metadata.entry_points(group="keyring.backends"))


def ensure_keyring_backend(platform: str | None = None) -> list[str]:
    """Makes the platform's keyring backends known to keyring when entry-point discovery found none.

    Importing a backend module registers its class (KeyringBackend subclasses register themselves), and
    keyring's `init_backend()` then chooses among them by priority exactly as it would from a source checkout;
    an explicit PYTHON_KEYRING_BACKEND or keyringrc.cfg still wins. Returns the modules imported here (empty
    when discovery worked or nothing was importable), so the caller and tests can see what happened.
    """
    if keyring_discovery_found_backends():
        return []
    imported: list[str] = []
    wanted = PLATFORM_BACKENDS.get(platform or _platform_key(), ())
    for module in wanted:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a backend whose own dependency is absent is simply not a candidate
            log.debug("keyring backend %s not importable: %s", module, type(exc).__name__)
        else:
            imported.append(module)
    if imported:
        _redetect_keyring()
        log.info("keyring discovery found no backends; registered %s explicitly", ", ".join(imported))
    return imported


def _platform_key() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def _redetect_keyring() -> None:
    """Forgets keyring's cached backend list (computed once per process) and detects again."""
    import keyring.backend
    import keyring.core

    cached = keyring.backend.get_all_keyring
    if hasattr(cached, "saved_result"):  # jaraco.functools.once keeps its result in this attribute
        del cached.saved_result
    cache_clear = getattr(cached, "cache_clear", None)  # in case a later keyring uses functools.cache
    if cache_clear is not None:
        cache_clear()
    keyring.core.init_backend()


def keyring_roundtrip() -> str:
    """Stores, reads back and deletes a random throwaway secret under service 'parley-selftest'.

    Naming a backend proves little: a locked or broken keyring only fails on use. The value is random and
    never printed; only the outcome is.
    """
    import keyring

    value = f"selftest-{secrets.token_hex(8)}"
    keyring.set_password(SELFTEST_SERVICE, SELFTEST_USERNAME, value)
    try:
        read = keyring.get_password(SELFTEST_SERVICE, SELFTEST_USERNAME)
    finally:
        keyring.delete_password(SELFTEST_SERVICE, SELFTEST_USERNAME)
    if read != value:
        raise RuntimeError("the keyring returned a different value than was stored")
    if keyring.get_password(SELFTEST_SERVICE, SELFTEST_USERNAME) is not None:
        raise RuntimeError("the keyring still holds the throwaway entry after deleting it")
    return "stored, read back and deleted a throwaway entry"


def selftest_keyring_requested() -> bool:
    return os.environ.get(SELFTEST_KEYRING_ENV) == "1"


def prepare() -> None:
    """Runs first in the bundle's entry script: warn about PortAudio, make keyring's backends findable."""
    problem = portaudio_problem()
    if problem:
        print(f"parley: {problem}", file=sys.stderr, flush=True)
    ensure_keyring_backend()
