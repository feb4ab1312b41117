"""`parley --self-test`: proves on any machine (or inside the bundle) that the parts that break when packaged load.

Each check prints one line, "PASS name: detail" or "FAIL name: reason", so the packaging test and a user reading a
bug report can see which part is missing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

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


TURN_ENV = "PARLEY_SELFTEST_TURN"  # "1": also hold one real turn with the server (the offline engine, keyless)
TURN_QUESTION = "What is two plus two?"


async def _offline_turn(window: QWidget) -> str:
    """Asks the connected server one question and waits for its spoken answer's transcript: with no key that is
    the offline engine, started by the controller as for a user (in a bundle: the bundle itself, --engine)."""
    controller: Any = window.controller  # type: ignore[attr-defined]  # the main window (app does not import ui)
    await controller.wait_ready(120)
    backend = controller.backend
    if controller.driver is None or backend is None:
        raise RuntimeError(f"not connected (backend {backend.kind if backend else None!r})")
    answers: list[str] = []
    done = asyncio.Event()

    def on_transcript(_item: str, role: str, text: str, finished: bool) -> None:
        if role == "assistant" and finished:
            answers.append(text)
            done.set()

    controller.transcript_updated.connect(on_transcript)
    started = time.monotonic()
    try:
        controller.send_text(TURN_QUESTION)
        await asyncio.wait_for(done.wait(), 60)
    finally:
        controller.transcript_updated.disconnect(on_transcript)
    answer = answers[-1]
    if "4" not in answer and "four" not in answer.lower():
        raise RuntimeError(f"unexpected answer to {TURN_QUESTION!r}: {answer!r}")
    return f"{backend.kind} backend answered {answer!r} in {time.monotonic() - started:.1f} s"


async def run_checks(window: QWidget) -> int:
    await asyncio.sleep(0.3)  # let the event loop paint and process the show event
    checks: list[tuple[str, Callable[[], str]]] = [
        ("window", lambda: _check_window(window)),
        ("audio", _check_audio),
        ("keyring", _check_keyring),
    ]
    failed = 0
    if os.environ.get(TURN_ENV) == "1":
        try:
            detail = await _offline_turn(window)
        except Exception as exc:
            failed += 1
            print(f"FAIL turn: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"PASS turn: {detail}", flush=True)
    for name, check in checks:
        try:
            detail = check()
        except Exception as exc:
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"PASS {name}: {detail}", flush=True)
    total = len(checks) + (os.environ.get(TURN_ENV) == "1")
    print(f"self-test finished: {total - failed} of {total} checks passed", flush=True)
    return 1 if failed else 0
