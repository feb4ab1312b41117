"""`parley --self-test`: proves on any machine (or inside the bundle) that the parts that break when packaged load.

Each check prints one line, "PASS name: detail" or "FAIL name: reason", so the packaging test and a user reading a
bug report can see which part is missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtWidgets import QWidget


def _check_window(window: QWidget) -> str:
    if not window.isVisible():
        raise RuntimeError("the main window is not visible")
    return f"shown {window.width()}x{window.height()} on platform {_platform_name()}"


def _platform_name() -> str:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName()


def _check_audio() -> str:
    import sounddevice

    version = sounddevice.get_portaudio_version()[1]
    devices = sounddevice.query_devices()
    count = len(devices)
    detail = f"{version}, {count} device(s)"
    if count:
        default_in, default_out = sounddevice.default.device
        names = [str(devices[i]["name"]) if i is not None and i >= 0 else "none"
                 for i in (default_in, default_out)]
        detail += f"; default input {names[0]!r}, output {names[1]!r}"
    if count == 0:
        detail += " (no audio server or device: talking will be disabled)"
    return detail


def _check_keyring() -> str:
    from desktop.app.frozen import keyring_roundtrip, selftest_keyring_requested
    from desktop.app.secrets import backend_name

    name = backend_name()
    if selftest_keyring_requested():  # only on request: it writes to the user's keyring
        return f"{name}: {keyring_roundtrip()}"
    return name


async def run_checks(window: QWidget) -> int:
    await asyncio.sleep(0.3)  # let the event loop paint and process the show event
    checks: list[tuple[str, Callable[[], str]]] = [
        ("window", lambda: _check_window(window)),
        ("audio", _check_audio),
        ("keyring", _check_keyring),
    ]
    failed = 0
    for name, check in checks:
        try:
            detail = check()
        except Exception as exc:
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"PASS {name}: {detail}", flush=True)
    print(f"self-test finished: {len(checks) - failed} of {len(checks)} checks passed", flush=True)
    return 1 if failed else 0
