"""A real Secret Service for keyring tests: a private D-Bus session bus with an unlocked gnome-keyring-daemon.

Started once per test session; the keyring data lives in a temp folder so no test touches the user's keyring.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class SecretServiceEnv:
    """The variables a child process needs to reach the same keyring."""

    env: dict[str, str]
    data_home: Path


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: run .ci/run's apt step (gnome-keyring, dbus)")
    return path


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretServiceEnv]:
    import keyring.core

    from desktop.app.frozen import _redetect_keyring

    root = tmp_path_factory.mktemp("secret-service")
    data_home = root / "data"
    runtime = root / "run"
    data_home.mkdir()
    runtime.mkdir(mode=0o700)
    bus = subprocess.run(
        [_require("dbus-daemon"), "--session", "--fork", "--print-address=1", "--print-pid=1", "--nosyslog"],
        capture_output=True, text=True, check=True, timeout=20,
    )
    address, pid = bus.stdout.split()[:2]
    env = {"DBUS_SESSION_BUS_ADDRESS": address, "XDG_DATA_HOME": str(data_home), "XDG_RUNTIME_DIR": str(runtime)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        subprocess.run(
            [_require("gnome-keyring-daemon"), "--unlock", "--components=secrets", "--daemonize"],
            input="test-keyring-password-not-a-secret", capture_output=True, text=True, check=True, timeout=20,
            env={**os.environ, **env},
        )
        _redetect_keyring()  # re-detect now that a Secret Service is on the bus (the backend list is cached)
        yield SecretServiceEnv(env=env, data_home=data_home)
    finally:
        subprocess.run(["pkill", "-f", f"gnome-keyring-daemon.*{runtime}"], check=False)
        subprocess.run(["kill", pid], check=False)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from keyring.backends import fail

        keyring.core.set_keyring(fail.Keyring())  # later tests must not reach a bus that is gone
